import { screen } from '@testing-library/vue'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import App from '@/App.vue'
import { sendToLoginOnUnauthorized } from '@/router'
import { installFakeApi, page } from '@/testing/fakeApi'
import { renderAt } from '@/testing/render'

import { api, ApiError, onUnauthorized } from './client'

describe('the API client', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT'
  })
  afterEach(() => onUnauthorized(null))

  it('sends same-origin credentials and the XHR header, and no CSRF token on reads', async () => {
    // given
    const fake = installFakeApi().on('GET', '/api/pipelines', { body: page([]) })
    document.cookie = 'csrftoken=token-123'
    // when
    await api.get('/pipelines', { query: { 'filter[status]': 'failed', 'filter[labels]': ['a=1', 'b=2'], empty: '' } })
    // then
    const [request] = fake.requests
    expect(request!.credentials).toBe('same-origin')
    expect(request!.headers['X-Requested-With']).toBe('XMLHttpRequest')
    expect(request!.headers['X-CSRFToken']).toBeUndefined()
    expect(request!.query.get('filter[status]')).toBe('failed')
    expect(request!.query.getAll('filter[labels]')).toEqual(['a=1', 'b=2'])
    expect(request!.query.has('empty')).toBe(false)
  })

  it('sends the CSRF token from the csrftoken cookie on mutations', async () => {
    // given
    const fake = installFakeApi().on('POST', '/api/pipelines/s/o/n/releases', { status: 201, body: { id: '1' } })
    document.cookie = 'csrftoken=token-123'
    // when
    await api.post('/pipelines/s/o/n/releases', { name: 'staging' })
    // then
    expect(fake.requests[0]!.headers['X-CSRFToken']).toBe('token-123')
    expect(fake.requests[0]!.body).toEqual({ name: 'staging' })
  })

  it('fails with the API error code and message', async () => {
    // given
    installFakeApi().on('POST', '/api/x', { status: 400, body: { code: 'Bad Request', message: 'No such target' } })
    // when
    const error = await api.post('/x').catch((caught: unknown) => caught)
    // then
    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({ status: 400, code: 'Bad Request', message: 'No such target' })
  })

  it('says what happened when the error body is not JSON', async () => {
    // given
    installFakeApi().on('GET', '/api/x', { status: 502, text: '<html>Bad gateway</html>' })
    // when
    const error = (await api.get('/x').catch((caught: unknown) => caught)) as ApiError
    // then
    expect(error.status).toBe(502)
    expect(error.message).toContain('502')
  })

  it('calls the unauthorized handler once on a 401 and still fails the request', async () => {
    // given
    installFakeApi().on('GET', '/api/x', { status: 401, body: { code: 'Unauthorized', message: 'Log in' } })
    const handler = vi.fn()
    onUnauthorized(handler)
    // when
    const error = (await api.get('/x').catch((caught: unknown) => caught)) as ApiError
    // then
    expect(handler).toHaveBeenCalledTimes(1)
    expect(error.isUnauthenticated).toBe(true)
  })

  it("treats DRF's 403 'credentials were not provided' as a lost session", async () => {
    // given
    installFakeApi().on('GET', '/api/x', {
      status: 403,
      body: { code: 'Forbidden', message: 'Authentication credentials were not provided.' },
    })
    const handler = vi.fn()
    onUnauthorized(handler)
    // when
    const error = (await api.get('/x').catch((caught: unknown) => caught)) as ApiError
    // then
    expect(handler).toHaveBeenCalledTimes(1)
    expect(error.status).toBe(401)
  })

  it('leaves a real 403 (not allowed) alone', async () => {
    // given
    installFakeApi().on('POST', '/api/x', { status: 403, body: { code: 'Forbidden', message: 'Release not allowed' } })
    const handler = vi.fn()
    onUnauthorized(handler)
    // when
    const error = (await api.post('/x').catch((caught: unknown) => caught)) as ApiError
    // then
    expect(handler).not.toHaveBeenCalled()
    expect(error.status).toBe(403)
  })

  it('does not call the handler where a 401 is an expected answer (the session probe)', async () => {
    // given
    installFakeApi().on('GET', '/api/me', { status: 401, body: { code: 'Unauthorized', message: 'no session' } })
    const handler = vi.fn()
    onUnauthorized(handler)
    // when
    await api.get('/me', { expectUnauthorized: true }).catch(() => undefined)
    // then
    expect(handler).not.toHaveBeenCalled()
  })

  it('turns a network failure into an ApiError that says what to do', async () => {
    // given
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('Failed to fetch')))
    // when
    const error = (await api.get('/x').catch((caught: unknown) => caught)) as ApiError
    // then
    expect(error.code).toBe('Network Error')
    expect(error.message).toMatch(/try again/)
  })
})

describe('a lost session in the app', () => {
  afterEach(() => onUnauthorized(null))

  it('sends the user to the login page with the way back', async () => {
    // given
    installFakeApi()
      .on('GET', '/api/pipelines', { status: 401, body: { code: 'Unauthorized', message: 'Log in first' } })
      .on('GET', '/api/me', { status: 401, body: { code: 'Unauthorized', message: 'Log in first' } })
    // when
    const { router } = await renderAt(App, '/pipelines?status=failed&since=1d', {
      beforeNavigation: sendToLoginOnUnauthorized,
    })
    // then
    expect(await screen.findByRole('heading', { name: 'Log in' })).toBeTruthy()
    expect(router.currentRoute.value.name).toBe('login')
    expect(router.currentRoute.value.query.returnUrl).toBe('/pipelines?status=failed&since=1d')
  })
})
