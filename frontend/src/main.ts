import { createApp } from 'vue'

import App from '@/App.vue'
import { makeRouter, sendToLoginOnUnauthorized } from '@/router'
import { loadSession } from '@/stores/session'

import './assets/main.css'

const router = makeRouter()
sendToLoginOnUnauthorized(router)

void loadSession().catch(() => undefined)
createApp(App).use(router).mount('#app')
