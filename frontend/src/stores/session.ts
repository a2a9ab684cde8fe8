// Cross-page state: who is logged in. Everything else belongs to the page that shows it.

import { readonly, reactive } from 'vue'

import { isApiError } from '@/api/client'
import { getMe, login as apiLogin, logout as apiLogout } from '@/api/estafette'
import type { User } from '@/api/types'

interface SessionState {
  user: User | null
  /** /api/me has answered at least once. */
  checked: boolean
}

const state = reactive<SessionState>({ user: null, checked: false })

export function displayName(user: Pick<User, 'name' | 'username' | 'email'> | null): string {
  if (!user) return ''
  return user.name || user.username || user.email || 'signed in'
}

/** Asks the API who we are; a 401/403 simply means nobody. */
export async function loadSession(): Promise<void> {
  try {
    state.user = await getMe()
  } catch (error) {
    if (!isApiError(error) || (error.status !== 401 && error.status !== 403)) throw error
    state.user = null
  } finally {
    state.checked = true
  }
}

/** Logs in with the session form; throws ApiError (e.g. 400/401 with the reason) when refused. */
export async function login(username: string, password: string): Promise<void> {
  const user = await apiLogin(username, password)
  state.user = user && typeof user === 'object' ? user : null
  if (!state.user) await loadSession()
}

export async function logout(): Promise<void> {
  try {
    await apiLogout()
  } finally {
    state.user = null
  }
}

/** The session is gone (the API said 401): forget the user without asking the API. */
export function forgetUser(): void {
  state.user = null
}

export function useSession() {
  return { state: readonly(state), login, logout, loadSession }
}

interface AccessScope {
  groups?: readonly { id: string }[]
  organizations?: readonly { id: string }[]
}

/**
 * Why the logged-in user may not cancel, rebuild, release or run a bot on a pipeline (or its run) — the server's
 * rule (estafette/policy.py) as far as /api/me tells it — or null when they may. The server still decides: this only
 * keeps the UI from offering what would be refused.
 */
export function operateRefusal(scope: AccessScope): string | null {
  const user = state.user
  // Not known to be logged in (anonymous reading): the server's 401 takes the user to the login page, as for any call.
  if (!user) return null
  const roles = user.roles ?? []
  if (roles.includes('administrator')) return null
  // /api/me's groups and organizations are {id, name} objects (typed loosely by the schema).
  const mine = (items: readonly { [key: string]: unknown }[] | undefined) =>
    new Set((items ?? []).map((item) => String(item.id)))
  const myGroups = mine(user.groups)
  const myOrganizations = mine(user.organizations)
  const byGroup =
    roles.includes('group.pipelines.operator') && (scope.groups ?? []).some((group) => myGroups.has(group.id))
  const byOrganization =
    roles.includes('organization.pipelines.operator') &&
    (scope.organizations ?? []).some((organization) => myOrganizations.has(organization.id))
  if (byGroup || byOrganization) return null
  return "You need the operator role in one of this pipeline's groups or organizations (or administrator)."
}
