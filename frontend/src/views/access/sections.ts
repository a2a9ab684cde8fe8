// The administration pages (users, groups, organizations, clients, pipeline access) and the permission that shows
// each: the user menu lists, and the pages open, only those the user's roles allow (/api/me's permissions).

import type { AccessKind } from '@/api/access'

export interface AccessSection {
  route: string
  label: string
  /** The permission to see the page: the list route's rule in estafette/policy.py. */
  permission: string
}

export interface KindSpec {
  singular: string
  plural: string
  label: string
  fields: readonly ('name' | 'email' | 'description' | 'groups' | 'organizations')[]
}

export const KINDS: Record<AccessKind, KindSpec> = {
  users: { singular: 'user', plural: 'users', label: 'Users', fields: ['email', 'groups', 'organizations'] },
  groups: { singular: 'group', plural: 'groups', label: 'Groups', fields: ['name', 'description', 'organizations'] },
  organizations: { singular: 'organization', plural: 'organizations', label: 'Organizations', fields: ['name'] },
  clients: { singular: 'client', plural: 'clients', label: 'API clients', fields: ['name', 'organizations'] },
}

export const ACCESS_KINDS = Object.keys(KINDS) as AccessKind[]

export const accessRouteName = (kind: AccessKind) => `access-${kind}`

export const ACCESS_SECTIONS: readonly AccessSection[] = [
  ...ACCESS_KINDS.map((kind) => ({
    route: accessRouteName(kind),
    label: KINDS[kind].label,
    permission: `rbac.${kind}.list`,
  })),
  { route: 'access-pipelines', label: 'Pipeline access', permission: 'ci.pipelines.update' },
]
