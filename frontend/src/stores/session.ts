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
