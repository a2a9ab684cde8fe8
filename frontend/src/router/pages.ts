// The pages beyond pipelines and runs (issue 15: Estafette's UI has them): home, insights, secrets, catalog,
// manifest tools and configuration. Kept apart from router/index.ts so that pages added there and here do not meet.
// Bots need no page of their own: they are a kind of run (utils/runKinds.ts) with a list, a pipeline tab and logs.

import type { RouteRecordRaw } from 'vue-router'

import CatalogView from '@/views/pages/CatalogView.vue'
import ConfigView from '@/views/pages/ConfigView.vue'
import HomeView from '@/views/pages/HomeView.vue'
import ManifestView from '@/views/pages/ManifestView.vue'
import SecretsView from '@/views/pages/SecretsView.vue'

// Insights loads on first visit: its charting library (Chart.js) is most of its weight.
export const pageRoutes: RouteRecordRaw[] = [
  { path: '/', name: 'home', component: HomeView, meta: { title: 'Home' } },
  {
    path: '/insights',
    name: 'insights',
    component: () => import('@/views/pages/InsightsView.vue'),
    meta: { title: 'Insights' },
  },
  { path: '/catalog', name: 'catalog', component: CatalogView, meta: { title: 'Catalog' } },
  { path: '/manifest', name: 'manifest', component: ManifestView, meta: { title: 'Manifest' } },
  { path: '/secrets', name: 'secrets', component: SecretsView, meta: { title: 'Secrets' } },
  { path: '/config', name: 'config', component: ConfigView, meta: { title: 'Configuration' } },
  // Estafette's own addresses of the same pages.
  { path: '/manifest/generator', redirect: { name: 'manifest' } },
  { path: '/manifest/encrypt', redirect: { name: 'secrets' } },
]

/** The main navigation's entries for these pages, after the run lists (AppHeader.vue). */
export const pageNav: readonly { name: string; label: string }[] = [
  { name: 'insights', label: 'Insights' },
  { name: 'delivery', label: 'Delivery' },
  { name: 'catalog', label: 'Catalog' },
  { name: 'manifest', label: 'Manifest' },
  { name: 'secrets', label: 'Secrets' },
  { name: 'config', label: 'Configuration' },
]
