// The administration pages' routes (/access/…; Django's own admin keeps /admin/). Each page says why when the user's
// roles do not allow it; the API refuses it anyway (estafette/policy.py).

import type { RouteRecordRaw } from 'vue-router'

import type { AccessKind } from '@/api/access'
import AccessItemsView from '@/views/access/AccessItemsView.vue'
import AccessPipelinesView from '@/views/access/AccessPipelinesView.vue'
import AccessView from '@/views/access/AccessView.vue'
import { ACCESS_KINDS, accessRouteName, KINDS } from '@/views/access/sections'

declare module 'vue-router' {
  interface RouteMeta {
    /** The kind of item an administration page lists (users, groups, organizations, clients). */
    accessKind?: AccessKind
  }
}

export const accessRoutes: RouteRecordRaw[] = [
  {
    path: '/access',
    component: AccessView,
    children: [
      { path: '', redirect: { name: accessRouteName('users') } },
      ...ACCESS_KINDS.map((kind): RouteRecordRaw => ({
        path: kind,
        name: accessRouteName(kind),
        component: AccessItemsView,
        meta: { title: KINDS[kind].label, accessKind: kind },
      })),
      {
        path: 'pipelines',
        name: 'access-pipelines',
        component: AccessPipelinesView,
        meta: { title: 'Pipeline access' },
      },
    ],
  },
]
