import { screen, within } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'

import App from '@/App.vue'
import { loadSession } from '@/stores/session'
import { installFakeApi, page } from '@/testing/fakeApi'
import { renderAt } from '@/testing/render'

const ADMIN_PERMISSIONS = ['rbac.clients.list', 'rbac.clients.create', 'rbac.clients.update', 'rbac.roles.list']

describe('the API clients page', () => {
  it("shows a new client's secret once, with a warning, and not after the page is left", async () => {
    // given an administrator and no client yet
    const clients: object[] = []
    const api = installFakeApi()
      .on('GET', '/api/me', { body: { name: 'Ada', roles: ['administrator'], permissions: ADMIN_PERMISSIONS } })
      .on('GET', '/api/clients', () => ({ body: page(clients) }))
      .on('GET', '/api/roles', { body: ['administrator', 'cron.trigger'] })
      .on('POST', '/api/clients', (request) => {
        const client = { id: '7', name: 'deployer', clientID: 'c-123', roles: ['cron.trigger'], active: true }
        clients.push(client)
        return { status: 201, body: { ...client, clientSecret: 's3cret-shown-once' }, request }
      })
      .on('GET', '/api/pipelines', { body: page([]) })
    await loadSession()
    const user = userEvent.setup()
    const { router } = await renderAt(App, '/access/clients')
    // when a client is created with a role
    await user.click(await screen.findByRole('button', { name: 'New client' }))
    await user.type(screen.getByLabelText('Name'), 'deployer')
    await user.click(screen.getByLabelText('cron.trigger'))
    await user.click(screen.getByRole('button', { name: 'Create client' }))
    // then its secret is shown with the warning, and the request carried the role
    const shown = await screen.findByRole('region', { name: 'Client secret' })
    expect(shown.textContent).toMatch(/shown this once/)
    expect((within(shown).getByLabelText('Client secret') as HTMLInputElement).value).toBe('s3cret-shown-once')
    expect(api.requestsTo('POST', '/api/clients')[0]!.body).toMatchObject({ name: 'deployer', roles: ['cron.trigger'] })
    // and once the page is left and opened again, the secret is nowhere
    await router.push('/pipelines')
    await router.push('/access/clients')
    await screen.findByRole('row', { name: /deployer/ })
    expect(screen.queryByRole('region', { name: 'Client secret' })).toBeNull()
    expect(document.body.textContent).not.toMatch(/s3cret-shown-once/)
  })

  it('keeps a form opened on another page open when the previous save finishes reloading after it', async () => {
    // given an administrator whose list reload after saving a group is slow (its roles request is held)
    const groups: object[] = []
    let releaseRoles: () => void = () => {}
    let holdRoles = false
    installFakeApi()
      .on('GET', '/api/me', {
        body: {
          name: 'Ada',
          roles: ['administrator'],
          permissions: [...ADMIN_PERMISSIONS, 'rbac.groups.list', 'rbac.groups.create'],
        },
      })
      .on('GET', '/api/groups', () => ({ body: page(groups) }))
      .on('GET', '/api/clients', { body: page([]) })
      .on('GET', '/api/roles', () =>
        holdRoles
          ? new Promise((resolve) => {
              releaseRoles = () => resolve({ body: ['administrator', 'cron.trigger'] })
            })
          : { body: ['administrator', 'cron.trigger'] },
      )
      .on('POST', '/api/groups', () => {
        groups.push({ id: '3', name: 'team-a', description: '', roles: [], active: true })
        return { status: 201, body: groups[0]! }
      })
      .on('GET', '/api/organizations', { body: page([]) })
      .on('GET', '/api/pipelines', { body: page([]) })
    await loadSession()
    const user = userEvent.setup()
    const { router } = await renderAt(App, '/access/groups')
    await user.click(await screen.findByRole('button', { name: 'New group' }))
    await user.type(screen.getByLabelText('Name'), 'team-a')
    holdRoles = true
    await user.click(screen.getByRole('button', { name: 'Create group' }))
    await screen.findByRole('row', { name: /team-a/ })
    // when the user goes to the clients, opens a new client's form, and only then the group reload ends
    holdRoles = false
    await router.push('/access/clients')
    await user.click(await screen.findByRole('button', { name: 'New client' }))
    releaseRoles()
    // the fake API answers in microtasks: all of the held reload has run before a macrotask does
    await new Promise((resolve) => setTimeout(resolve, 0))
    // then the client's form is still open
    expect(screen.getByRole('form', { name: 'New client' })).toBeTruthy()
  })

  it('disables creating for a viewer of clients and says why', async () => {
    installFakeApi()
      .on('GET', '/api/me', { body: { name: 'Vic', roles: ['client.viewer'], permissions: ['rbac.clients.list'] } })
      .on('GET', '/api/clients', { body: page([]) })
    await loadSession()
    await renderAt(App, '/access/clients')
    const create = await screen.findByRole('button', { name: 'New client' })
    expect((create as HTMLButtonElement).disabled).toBe(true)
    expect(create.getAttribute('title')).toMatch(/rbac\.clients\.create needs the administrator role/)
    await vi.waitFor(() => expect(screen.getByText(/No clients yet/)).toBeTruthy())
  })

  it('says why a user without the permission cannot open the page, and offers no administration link', async () => {
    installFakeApi().on('GET', '/api/me', { body: { name: 'Nina', roles: [], permissions: [] } })
    await loadSession()
    await renderAt(App, '/access/users')
    expect((await screen.findByRole('alert')).textContent).toMatch(/rbac\.users\.list needs the administrator role/)
    expect(screen.queryByRole('navigation', { name: 'Administration' })).toBeNull()
  })
})
