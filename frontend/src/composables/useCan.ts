// What the logged-in user may do, and why not: the one place the UI decides which actions it offers.
//
// Global permissions (the admin pages: rbac.users.list, rbac.clients.create, …) come from the server's role table as
// /api/me's `permissions`, so they have one source. The pipeline rule is mirrored from the server's
// Principal.may_on_pipeline (estafette/access/principal.py): an operator role applies to the pipelines of the user's
// effective groups (group.pipelines.operator) or organizations (organization.pipelines.operator), which /api/me lists
// as `effectiveGroups`/`effectiveOrganizations`. Exposing per-object allowed actions instead would put the caller's
// principal into every pipeline and run serializer (none of them sees the request today) and onto every list item;
// the rule is six lines and its cases are unit-tested against the server's. The server still decides: this only
// keeps the UI from offering what would be refused, and says why.

import { computed } from 'vue'

import { useSession } from '@/stores/session'

export const ADMINISTRATOR = 'administrator'

/** The pipeline permissions an operator role grants (roles.PIPELINE_OPERATE on the server). */
export const PIPELINE_ACTIONS = {
  'ci.builds.cancel': 'cancel this build',
  'ci.builds.rebuild': 'rebuild this version',
  'ci.releases.create': 'release this pipeline',
  'ci.releases.cancel': 'cancel this release',
  'ci.bots.create': 'run a bot of this pipeline',
  'ci.bots.cancel': 'cancel this bot run',
  'ci.secrets.encrypt': 'encrypt a secret for this pipeline',
} as const

export type PipelineAction = keyof typeof PIPELINE_ACTIONS

/** A pipeline or one of its runs: both carry the pipeline's groups and organizations. */
export interface AccessScope {
  groups?: readonly { id: string }[]
  organizations?: readonly { id: string }[]
}

/** What the rules read of /api/me (the session keeps it read-only). */
interface Caller {
  roles?: readonly string[]
  permissions?: readonly string[]
  effectiveGroups?: readonly string[]
  effectiveOrganizations?: readonly string[]
}

/** Why `user` may not take `action` on the pipeline of `scope`, or null when they may (or nobody is known). */
export function pipelineRefusal(user: Caller | null, action: PipelineAction, scope: AccessScope): string | null {
  // Not known to be logged in (anonymous reading): the server's 401 takes the user to the login page, as for any call.
  if (!user) return null
  const roles = user.roles ?? []
  if (roles.includes(ADMINISTRATOR)) return null
  const groups = new Set(user.effectiveGroups ?? [])
  const organizations = new Set(user.effectiveOrganizations ?? [])
  const byGroup =
    roles.includes('group.pipelines.operator') && (scope.groups ?? []).some((group) => groups.has(group.id))
  const byOrganization =
    roles.includes('organization.pipelines.operator') &&
    (scope.organizations ?? []).some((organization) => organizations.has(organization.id))
  if (byGroup || byOrganization) return null
  return (
    `You may not ${PIPELINE_ACTIONS[action]}: it needs the administrator role, the group.pipelines.operator role ` +
    "in one of the pipeline's groups or the organization.pipelines.operator role in one of its organizations."
  )
}

/** Why `user` may not use a global permission (rbac.users.create, audit.list, …), or null when they may. */
export function permissionRefusal(user: Caller | null, permission: string): string | null {
  if (!user) return 'Log in first.'
  if ((user.permissions ?? []).includes(permission)) return null
  return `You may not do this: ${permission} needs the administrator role or a role granting it.`
}

export function useCan() {
  const { state } = useSession()
  return {
    isAdministrator: computed(() => (state.user?.roles ?? []).includes(ADMINISTRATOR)),
    /** Why not `action` on this pipeline (or run), or null. */
    onPipeline: (action: PipelineAction, scope: AccessScope) => pipelineRefusal(state.user, action, scope),
    /** Why not this global permission, or null. */
    refusal: (permission: string) => permissionRefusal(state.user, permission),
    /** Whether the global permission is held (for hiding what a user never sees, like the admin pages). */
    may: (permission: string) => permissionRefusal(state.user, permission) === null,
  }
}
