import { screen } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'

import App from '@/App.vue'
import { loadSession } from '@/stores/session'
import { installFakeApi, page } from '@/testing/fakeApi'
import { renderAt } from '@/testing/render'

describe('logging in and out', () => {
  it('logs in with the session form and returns to the page asked for', async () => {
    // given
    let loggedIn = false
    const api = installFakeApi()
      .on('GET', '/api/me', () =>
        loggedIn
          ? { body: { username: 'ada', name: 'Ada Lovelace' } }
          : { status: 401, body: { code: 'Unauthorized', message: '' } },
      )
      .on('POST', '/api/auth/login', () => {
        loggedIn = true
        return { body: { username: 'ada', name: 'Ada Lovelace' } }
      })
      .on('GET', '/api/builds', { body: page([]) })
    document.cookie = 'csrftoken=abc'
    await loadSession()
    const user = userEvent.setup()
    const { router } = await renderAt(App, '/login?returnUrl=/builds?status=failed')
    // when
    await user.type(screen.getByLabelText('Username'), 'ada')
    await user.type(screen.getByLabelText('Password'), 's3cret')
    await user.click(screen.getByRole('button', { name: 'Log in' }))
    // then
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe('/builds?status=failed'))
    const login = api.requestsTo('POST', '/api/auth/login')[0]!
    expect(login.body).toEqual({ username: 'ada', password: 's3cret' })
    expect(login.headers['X-CSRFToken']).toBe('abc')
    expect(screen.getByRole('button', { name: /Ada Lovelace/ })).toBeTruthy()
  })

  it('says why a login was refused and stays on the form', async () => {
    // given
    installFakeApi()
      .on('GET', '/api/me', { status: 401, body: { code: 'Unauthorized', message: '' } })
      .on('POST', '/api/auth/login', {
        status: 400,
        body: { code: 'Bad Request', message: 'Wrong username or password.' },
      })
    await loadSession()
    const user = userEvent.setup()
    const { router } = await renderAt(App, '/login')
    // when
    await user.type(screen.getByLabelText('Username'), 'ada')
    await user.type(screen.getByLabelText('Password'), 'nope')
    await user.click(screen.getByRole('button', { name: 'Log in' }))
    // then
    expect((await screen.findByRole('alert')).textContent).toBe('Wrong username or password.')
    expect(router.currentRoute.value.name).toBe('login')
  })

  it('never returns to another site after logging in', async () => {
    // given
    installFakeApi()
      .on('GET', '/api/me', { status: 401, body: { code: 'Unauthorized', message: '' } })
      .on('POST', '/api/auth/login', { body: { username: 'ada' } })
      .on('GET', '/api/pipelines', { body: page([]) })
    await loadSession()
    const user = userEvent.setup()
    const { router } = await renderAt(App, '/login?returnUrl=//evil.example.com/')
    // when
    await user.type(screen.getByLabelText('Username'), 'ada')
    await user.type(screen.getByLabelText('Password'), 'pw')
    await user.click(screen.getByRole('button', { name: 'Log in' }))
    // then
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe('/pipelines'))
  })

  it('logs out from the user menu, by keyboard', async () => {
    // given
    const api = installFakeApi()
      .on('GET', '/api/me', { body: { username: 'ada', email: 'ada@example.com' } })
      .on('POST', '/api/auth/logout', { status: 204 })
      .on('GET', '/api/pipelines', { body: page([]) })
    await loadSession()
    const user = userEvent.setup()
    const { router } = await renderAt(App, '/pipelines')
    const menuButton = screen.getByRole('button', { name: /ada/ })
    // when
    menuButton.focus()
    await user.keyboard('{Enter}')
    // then
    expect(menuButton.getAttribute('aria-expanded')).toBe('true')
    expect(screen.getByRole('menu', { name: 'User menu' })).toBeTruthy()
    // when
    await user.click(screen.getByRole('menuitem', { name: 'Log out' }))
    // then
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('login'))
    expect(api.requestsTo('POST', '/api/auth/logout')).toHaveLength(1)
    expect(screen.queryByRole('button', { name: /ada/ })).toBeNull()
  })
})
