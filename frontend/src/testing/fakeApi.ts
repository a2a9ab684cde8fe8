// A fake API at the network edge: replaces the global `fetch` with a small router of handlers and
// records every request, so tests exercise the real client, composables and components.

import { vi } from 'vitest'

export interface RecordedRequest {
  method: string
  url: URL
  path: string
  query: URLSearchParams
  headers: Record<string, string>
  body: unknown
  credentials: RequestCredentials | undefined
}

export interface FakeResponse {
  status?: number
  body?: unknown
  /** Raw text instead of JSON. */
  text?: string
}

type Handler = (request: RecordedRequest) => FakeResponse | Promise<FakeResponse>

export interface FakeApi {
  requests: RecordedRequest[]
  /** Answers `method path` (path without the query, e.g. "/api/pipelines"). Later handlers win. */
  on: (method: string, path: string | RegExp, handler: Handler | FakeResponse) => FakeApi
  /** The requests to a path, in order. */
  requestsTo: (method: string, path: string | RegExp) => RecordedRequest[]
}

function matches(pattern: string | RegExp, path: string): boolean {
  return typeof pattern === 'string' ? pattern === path : pattern.test(path)
}

export function installFakeApi(): FakeApi {
  const routes: { method: string; path: string | RegExp; handler: Handler }[] = []
  const requests: RecordedRequest[] = []

  const fakeFetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input), 'http://localhost')
    const headers = Object.fromEntries(Object.entries((init.headers as Record<string, string>) ?? {}))
    const request: RecordedRequest = {
      method: (init.method ?? 'GET').toUpperCase(),
      url,
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      credentials: init.credentials,
    }
    requests.push(request)
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError')
    const route = [...routes].reverse().find((r) => r.method === request.method && matches(r.path, request.path))
    const answer = route
      ? await route.handler(request)
      : { status: 404, body: { code: 'Not Found', message: `no fake for ${request.method} ${request.path}` } }
    const status = answer.status ?? 200
    const text = answer.text ?? (answer.body === undefined ? '' : JSON.stringify(answer.body))
    return new Response(status === 204 ? null : text, {
      status,
      statusText:
        { 200: 'OK', 201: 'Created', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden' }[status] ?? '',
      headers: { 'Content-Type': answer.text ? 'text/html' : 'application/json' },
    })
  }
  vi.stubGlobal('fetch', vi.fn(fakeFetch))

  const api: FakeApi = {
    requests,
    on(method, path, handler) {
      routes.push({ method, path, handler: typeof handler === 'function' ? handler : () => handler })
      return api
    },
    requestsTo(method, path) {
      return requests.filter((request) => request.method === method && matches(path, request.path))
    },
  }
  return api
}

export function page<T>(items: T[], pageNumber = 1, size = 20, totalItems = items.length) {
  return { items, pagination: { page: pageNumber, size, totalPages: Math.ceil(totalItems / size), totalItems } }
}
