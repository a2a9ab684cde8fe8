import { createApp } from 'vue'

import { onUnauthorized } from '@/api/client'
import App from '@/App.vue'
import { makeRouter } from '@/router'
import { forgetUser, loadSession } from '@/stores/session'

import './assets/main.css'

const router = makeRouter()

// The one place a lost session is handled: forget the user and go to the login page, coming
// back to where we were afterwards.
onUnauthorized(() => {
  forgetUser()
  const current = router.currentRoute.value
  if (current.name !== 'login') void router.push({ name: 'login', query: { returnUrl: current.fullPath } })
})

void loadSession().catch(() => undefined)
createApp(App).use(router).mount('#app')
