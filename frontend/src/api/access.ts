// Typed calls to the access routes (users, groups, organizations, clients, a pipeline's groups and organizations:
// estafette/access/api.py and pipelines/access.py). Who may call them is the server's policy (estafette/policy.py).

import { api, request, type Query } from './client'
import type { components } from './schema'
import type { Page } from './types'

type Schemas = components['schemas']

export type AccessRef = Schemas['AccessRef']
export type Role = Schemas['RoleEnum']
export type AccessUser = Schemas['User']
export type AccessGroup = Schemas['Group']
export type AccessOrganization = Schemas['Organization']
export type AccessClient = Schemas['Client']
/** A client as created or given a new secret: its secret is in this answer only. */
export type NewClient = Schemas['NewClient']
export type AdminPipeline = Schemas['AdminPipeline']

export interface AccessItems {
  users: AccessUser
  groups: AccessGroup
  organizations: AccessOrganization
  clients: AccessClient
}
export type AccessKind = keyof AccessItems

/** What a create or edit form sends: the item's writable fields (groups/organizations as `{id, name}`). */
export interface AccessChanges {
  name?: string
  email?: string
  description?: string
  roles?: Role[]
  groups?: AccessRef[]
  organizations?: AccessRef[]
  active?: boolean
}

const ALL: Query = { 'page[size]': 100, sort: 'name' }

export const listRoles = () => api.get<Role[]>('/roles')

export const listItems = <K extends AccessKind>(kind: K, page = 1) =>
  api.get<Page<AccessItems[K]>>(`/${kind}`, { query: { ...ALL, 'page[number]': page } })

export const createItem = <K extends AccessKind>(kind: K, changes: AccessChanges) =>
  api.post<K extends 'clients' ? NewClient : AccessItems[K]>(`/${kind}`, changes)

export const updateItem = <K extends AccessKind>(kind: K, id: string, changes: AccessChanges) =>
  request<AccessItems[K]>(`/${kind}/${encodeURIComponent(id)}`, { method: 'PUT', body: changes })

/** Estafette's delete: the item is deactivated, not removed. */
export const deactivateItem = <K extends AccessKind>(kind: K, id: string) =>
  api.delete<AccessItems[K]>(`/${kind}/${encodeURIComponent(id)}`)

/** A new secret for a client (the old one stops working), shown this once. */
export const newClientSecret = (id: string) => api.post<NewClient>(`/clients/${encodeURIComponent(id)}/secret`)

export const listAdminPipelines = (search: string, page = 1) =>
  api.get<Page<AdminPipeline>>('/admin/pipelines', {
    query: { 'filter[search]': search || undefined, 'page[number]': page, 'page[size]': 50 },
  })

export const updateAdminPipeline = (
  pipeline: Pick<AdminPipeline, 'repoSource' | 'repoOwner' | 'repoName'>,
  changes: { groups?: AccessRef[]; organizations?: AccessRef[] },
) =>
  request<AdminPipeline>(
    `/admin/pipelines/${[pipeline.repoSource, pipeline.repoOwner, pipeline.repoName].map(encodeURIComponent).join('/')}`,
    { method: 'PUT', body: changes },
  )
