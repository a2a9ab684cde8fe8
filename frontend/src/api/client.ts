// The only module that talks HTTP (ESLint forbids `fetch` elsewhere). Every request goes to
// `/api`, same-origin with the session cookie, says it is an XHR (so proxies answer 401 instead of
// redirecting to a login page), sends Django's CSRF token on mutations, and fails with an ApiError
// carrying the API's `{code, message}`. A 401 is handled here, once: the registered handler sends
// the user to the login page.

export const API_BASE = '/api'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export class ApiError extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }

  get isUnauthenticated(): boolean {
    return this.status === 401
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError
}

/** Anything thrown while loading, as an ApiError, so views show one kind of message. */
export function toApiError(error: unknown): ApiError {
  if (isApiError(error)) return error
  const message = error instanceof Error ? error.message : String(error)
  return new ApiError(0, 'Error', message)
}

type UnauthorizedHandler = () => void
let unauthorizedHandler: UnauthorizedHandler | null = null

/** Registers what to do when the API says the session is gone (main.ts: go to the login page). */
export function onUnauthorized(handler: UnauthorizedHandler | null): void {
  unauthorizedHandler = handler
}

export type QueryValue = string | number | boolean | null | undefined | readonly (string | number)[]
export type Query = Record<string, QueryValue>

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  query?: Query
  body?: unknown
  signal?: AbortSignal
  /** For the session probe and the login form: a 401 is an answer there, not a lost session. */
  expectUnauthorized?: boolean
}

export function apiUrl(path: string, query?: Query): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === '') continue
    if (Array.isArray(value)) {
      for (const item of value) params.append(key, String(item))
    } else {
      params.append(key, String(value))
    }
  }
  const search = params.toString()
  return `${API_BASE}${path}${search ? `?${search}` : ''}`
}

export function csrfToken(): string | undefined {
  if (typeof document === 'undefined') return undefined
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=')
    if (name === 'csrftoken') return decodeURIComponent(rest.join('='))
  }
  return undefined
}

// DRF answers 403 "Authentication credentials were not provided." when session authentication
// is the first authenticator (it sends no WWW-Authenticate header, so it cannot say 401).
function isNotAuthenticated(status: number, message: string): boolean {
  return status === 401 || (status === 403 && /credentials were not provided|not authenticated/i.test(message))
}

async function errorFrom(response: Response): Promise<ApiError> {
  let code = response.statusText || `HTTP ${response.status}`
  let message = `The server answered ${response.status} ${response.statusText}`.trim()
  const text = await response.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown; error?: { message?: unknown } }
    if (typeof body.code === 'string') code = body.code
    if (typeof body.message === 'string') message = body.message
    else if (body.error && typeof body.error.message === 'string') message = body.error.message
  } catch {
    // Not JSON (a proxy's error page): keep the status line as the message.
  }
  const status = isNotAuthenticated(response.status, message) ? 401 : response.status
  return new ApiError(status, code, message)
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET'
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'X-Requested-With': 'XMLHttpRequest',
  }
  let body: string | undefined
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  if (!SAFE_METHODS.has(method)) {
    const token = csrfToken()
    if (token) headers['X-CSRFToken'] = token
  }

  let response: Response
  try {
    response = await fetch(apiUrl(path, options.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: options.signal,
    })
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error
    throw new ApiError(0, 'Network Error', 'Could not reach the server. Check your connection and try again.')
  }

  if (!response.ok) {
    const error = await errorFrom(response)
    if (error.isUnauthenticated && !options.expectUnauthorized) unauthorizedHandler?.()
    throw error
  }
  if (response.status === 204) return undefined as T
  const text = await response.text()
  if (!text) return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    throw new ApiError(response.status, 'Bad Response', `The server sent something that is not JSON for ${path}.`)
  }
}

export const api = {
  get: <T>(path: string, options: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...options, method: 'GET' }),
  post: <T>(path: string, body?: unknown, options: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...options, method: 'POST', body }),
  put: <T>(path: string, body?: unknown, options: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...options, method: 'PUT', body }),
  delete: <T>(path: string, options: Omit<RequestOptions, 'method' | 'body'> = {}) =>
    request<T>(path, { ...options, method: 'DELETE' }),
}

/** A Server-Sent Events stream under /api (same-origin, so the session cookie goes along). */
export function openEventStream(path: string): EventSource {
  return new EventSource(apiUrl(path))
}
