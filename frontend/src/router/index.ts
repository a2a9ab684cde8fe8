import { createRouter, createWebHistory, type RouteRecordRaw, type Router, type RouterHistory } from 'vue-router'

import { onUnauthorized } from '@/api/client'
import { accessRoutes } from '@/router/access'
import type { RunKind } from '@/api/types'
import { forgetUser } from '@/stores/session'
import { RUN_TABS } from '@/utils/navigation'
import { RUN_KIND_LIST, runListRouteName, runRouteName } from '@/utils/runKinds'
import DeliveryInsightsView from '@/views/DeliveryInsightsView.vue'
import LoginView from '@/views/LoginView.vue'
import LogSearchView from '@/views/LogSearchView.vue'
import NotFoundView from '@/views/NotFoundView.vue'
import PipelineInsightsView from '@/views/PipelineInsightsView.vue'
import PipelineOverviewView from '@/views/PipelineOverviewView.vue'
import PipelinesView from '@/views/PipelinesView.vue'
import PipelineTriggersView from '@/views/PipelineTriggersView.vue'
import PipelineView from '@/views/PipelineView.vue'
import RunDetailView from '@/views/RunDetailView.vue'
import RunsView from '@/views/RunsView.vue'

import { pageRoutes } from './pages'

declare module 'vue-router' {
  interface RouteMeta {
    /** The document title; a pipeline's pages show the pipeline instead. */
    title?: string
    /** The kind of run a run list or run page serves (utils/runKinds.ts). */
    runKind?: RunKind
  }
}

// Per kind of run (build, release, bot): a list across all pipelines (/builds), Estafette's address
// for it (/pipelines/builds), a pipeline's tab (…/builds) and the page of one run (…/builds/:id/:tab?).
const runTab = `:tab(${RUN_TABS.join('|')})?`

export const routes: RouteRecordRaw[] = [
  ...pageRoutes,
  { path: '/login', name: 'login', component: LoginView, meta: { title: 'Log in' } },
  { path: '/pipelines', name: 'pipelines', component: PipelinesView, meta: { title: 'Pipelines' } },
  { path: '/delivery', name: 'delivery', component: DeliveryInsightsView, meta: { title: 'Delivery insights' } },
  { path: '/logs/search', name: 'logs-search', component: LogSearchView, meta: { title: 'Search logs' } },
  // Estafette's own addresses for the cross-pipeline pages.
  { path: '/pipelines/all', redirect: (to) => ({ name: 'pipelines', query: to.query }) },
  ...RUN_KIND_LIST.map((spec): RouteRecordRaw => ({
    path: `/pipelines/${spec.segment}`,
    redirect: (to) => ({ name: runListRouteName(spec.kind, false), query: to.query }),
  })),
  ...RUN_KIND_LIST.map((spec): RouteRecordRaw => ({
    path: `/${spec.segment}`,
    name: runListRouteName(spec.kind, false),
    component: RunsView,
    meta: { title: spec.plural, runKind: spec.kind },
  })),
  {
    path: '/pipelines/:source/:owner/:name',
    component: PipelineView,
    children: [
      { path: '', redirect: (to) => ({ name: 'pipeline-overview', params: to.params }) },
      { path: 'overview', name: 'pipeline-overview', component: PipelineOverviewView },
      ...RUN_KIND_LIST.map((spec): RouteRecordRaw => ({
        path: spec.segment,
        name: runListRouteName(spec.kind, true),
        component: RunsView,
        meta: { runKind: spec.kind },
      })),
      { path: 'triggers', name: 'pipeline-triggers', component: PipelineTriggersView },
      { path: 'insights', name: 'pipeline-insights', component: PipelineInsightsView },
      ...RUN_KIND_LIST.map((spec): RouteRecordRaw => ({
        path: `${spec.segment}/:id/${runTab}`,
        name: runRouteName(spec.kind),
        component: RunDetailView,
        meta: { runKind: spec.kind },
      })),
    ],
  },
  ...accessRoutes,
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
