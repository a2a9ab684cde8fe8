import { createRouter, createWebHistory, type RouteRecordRaw, type Router, type RouterHistory } from 'vue-router'

import { onUnauthorized } from '@/api/client'
import { forgetUser } from '@/stores/session'
import BuildDetailView from '@/views/BuildDetailView.vue'
import BuildsView from '@/views/BuildsView.vue'
import LoginView from '@/views/LoginView.vue'
import NotFoundView from '@/views/NotFoundView.vue'
import PipelineBuildsView from '@/views/PipelineBuildsView.vue'
import PipelineOverviewView from '@/views/PipelineOverviewView.vue'
import PipelineReleasesView from '@/views/PipelineReleasesView.vue'
import PipelinesView from '@/views/PipelinesView.vue'
import PipelineTriggersView from '@/views/PipelineTriggersView.vue'
import PipelineView from '@/views/PipelineView.vue'
import ReleaseDetailView from '@/views/ReleaseDetailView.vue'
import ReleasesView from '@/views/ReleasesView.vue'

export const routes: RouteRecordRaw[] = [
  { path: '/', redirect: { name: 'pipelines' } },
  { path: '/login', name: 'login', component: LoginView, meta: { title: 'Log in' } },
  { path: '/pipelines', name: 'pipelines', component: PipelinesView, meta: { title: 'Pipelines' } },
  // Estafette's own addresses for the cross-pipeline pages.
  { path: '/pipelines/all', redirect: (to) => ({ name: 'pipelines', query: to.query }) },
  { path: '/pipelines/builds', redirect: (to) => ({ name: 'builds', query: to.query }) },
  { path: '/pipelines/releases', redirect: (to) => ({ name: 'releases', query: to.query }) },
  { path: '/builds', name: 'builds', component: BuildsView, meta: { title: 'Builds' } },
  { path: '/releases', name: 'releases', component: ReleasesView, meta: { title: 'Releases' } },
  {
    path: '/pipelines/:source/:owner/:name',
    component: PipelineView,
    children: [
      { path: '', redirect: (to) => ({ name: 'pipeline-overview', params: to.params }) },
      { path: 'overview', name: 'pipeline-overview', component: PipelineOverviewView },
      { path: 'builds', name: 'pipeline-builds', component: PipelineBuildsView },
      { path: 'releases', name: 'pipeline-releases', component: PipelineReleasesView },
      { path: 'triggers', name: 'pipeline-triggers', component: PipelineTriggersView },
      { path: 'builds/:id/:tab(logs|manifest|triggered-by)?', name: 'build', component: BuildDetailView },
      { path: 'releases/:id/:tab(logs|manifest|triggered-by)?', name: 'release', component: ReleaseDetailView },
    ],
  },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: NotFoundView, meta: { title: 'Not found' } },
]

export function makeRouter(history: RouterHistory = createWebHistory()): Router {
  const router = createRouter({
    history,
    routes,
    scrollBehavior: (to, from, saved) => saved ?? (to.path === from.path ? undefined : { top: 0 }),
  })
  router.afterEach((to) => {
    const title = typeof to.meta.title === 'string' ? to.meta.title : undefined
    const pipeline = typeof to.params.name === 'string' ? `${to.params.owner}/${to.params.name}` : undefined
    document.title = [title ?? pipeline, 'Estafette CI'].filter(Boolean).join(' · ')
  })
  return router
}

/**
 * The one place a lost session is handled: the API client reports a 401 here, the user is
 * forgotten and sent to the login page, which brings them back to where they were.
 */
export function sendToLoginOnUnauthorized(router: Router): void {
  onUnauthorized(() => {
    forgetUser()
    const current = router.currentRoute.value
    if (current.name !== 'login') void router.push({ name: 'login', query: { returnUrl: current.fullPath } })
  })
}
