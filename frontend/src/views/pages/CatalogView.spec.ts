import { screen, within } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { CatalogEntity } from '@/api/pages'
import { loadSession } from '@/stores/session'
import { installFakeApi, page } from '@/testing/fakeApi'
import { makePipeline } from '@/testing/fixtures'
import { renderAt } from '@/testing/render'

import CatalogView from './CatalogView.vue'

const ADMIN_PERMISSIONS = ['list', 'get', 'create', 'update', 'delete'].map((action) => `catalog.entities.${action}`)

function makeEntity(overrides: Partial<CatalogEntity> = {}): CatalogEntity {
  return {
    id: '7',
    parentKey: 'team',
    parentValue: 'payments',
    key: 'application',
    value: 'billing',
    linkedPipeline: 'github.com/estafette/billing',
    labels: [{ key: 'tier', value: 'gold' }],
    metadata: { description: 'Sends the invoices' },
    insertedAt: '2026-11-01T10:00:00Z',
    updatedAt: '2026-11-02T10:00:00Z',
    ...overrides,
  }
}

async function signIn(permissions: string[]) {
  const api = installFakeApi().on('GET', '/api/me', { body: { name: 'Olga', roles: [], permissions } })
  await loadSession()
  return api
}

describe('CatalogView, entities', () => {
  it('lists the entities with parent, labels and linked pipeline, and shows the chosen one', async () => {
    // given
    const api = (await signIn(ADMIN_PERMISSIONS)).on('GET', '/api/catalog/entities', { body: page([makeEntity()]) })
    const user = userEvent.setup()
    await renderAt(CatalogView, '/catalog')
    // when
    const entities = await screen.findByRole('region', { name: 'Entities' })
    await within(entities).findByRole('button', { name: 'application=billing' })
    expect(within(entities).getByText('team=payments')).toBeTruthy()
    expect(within(entities).getByText('tier=gold')).toBeTruthy()
    await user.click(within(entities).getByRole('button', { name: 'application=billing' }))
    // then
    const detail = screen.getByRole('region', { name: 'Entity' })
    expect(within(detail).getByRole('heading', { name: 'application=billing' })).toBeTruthy()
    expect(within(detail).getByText(/Sends the invoices/)).toBeTruthy()
    const link = within(detail).getByRole('link', { name: 'github.com/estafette/billing' })
    expect(link.getAttribute('href')).toBe('/pipelines/github.com/estafette/billing/overview')
    expect(api.requestsTo('GET', '/api/catalog/entities')[0]!.query.get('sort')).toBe(
      'parent_key,parent_value,key,value',
    )
  })

  it("sends the filters as the API's filter[…] parameters, and lists an entity's children", async () => {
    // given
    const api = (await signIn([])).on('GET', '/api/catalog/entities', { body: page([makeEntity()]) })
    const user = userEvent.setup()
    await renderAt(CatalogView, '/catalog')
    await screen.findByRole('button', { name: 'application=billing' })
    // when
    await user.type(screen.getByRole('searchbox', { name: 'Search' }), 'bill')
    await user.type(screen.getByRole('textbox', { name: 'Parent' }), 'team=payments')
    await user.type(screen.getByRole('textbox', { name: 'Label' }), 'tier=gold')
    await user.click(screen.getByRole('button', { name: 'Filter' }))
    // then
    const filtered = api.requestsTo('GET', '/api/catalog/entities')[1]!.query
    expect(filtered.get('filter[search]')).toBe('bill')
    expect(filtered.get('filter[parent]')).toBe('team=payments')
    expect(filtered.get('filter[labels]')).toBe('tier=gold')
    expect(filtered.has('filter[entity]')).toBe(false)
    // when
    await user.click(screen.getByRole('button', { name: 'application=billing' }))
    await user.click(screen.getByRole('button', { name: 'Show its children' }))
    // then
    const children = api.requestsTo('GET', '/api/catalog/entities')[2]!.query
    expect(children.get('filter[parent]')).toBe('application=billing')
    expect(children.has('filter[search]')).toBe(false)
  })

  it('does not offer changes to a user without a catalog role, and says why', async () => {
    // given
    ;(await signIn(['catalog.entities.list'])).on('GET', '/api/catalog/entities', { body: page([makeEntity()]) })
    const user = userEvent.setup()
    await renderAt(CatalogView, '/catalog')
    // when
    await user.click(await screen.findByRole('button', { name: 'application=billing' }))
    // then
    for (const name of ['New entity', 'Edit', 'Delete']) {
      const button = screen.getByRole('button', { name }) as HTMLButtonElement
      expect(button.disabled).toBe(true)
    }
    expect(screen.getByRole('button', { name: 'Edit' }).getAttribute('title')).toMatch(
      /catalog\.entities\.update needs the administrator role/,
    )
    expect(screen.getByText(/catalog\.entities\.create needs the administrator role/)).toBeTruthy()
  })

  it('creates an entity from the form, with its labels and metadata', async () => {
    // given
    const created = makeEntity({ id: '8', key: 'component', value: 'invoicer', parentKey: '', parentValue: '' })
    const api = (await signIn(ADMIN_PERMISSIONS))
      .on('GET', '/api/catalog/entities', { body: page([]) })
      .on('POST', '/api/catalog/entities', { status: 201, body: created })
    const user = userEvent.setup()
    await renderAt(CatalogView, '/catalog')
    // when
    await user.click(await screen.findByRole('button', { name: 'New entity' }))
    const form = screen.getByRole('form', { name: 'New catalog entity' })
    await user.type(within(form).getByLabelText('Key'), 'component')
    await user.type(within(form).getByLabelText('Value'), 'invoicer')
    await user.type(within(form).getByLabelText(/Labels/), 'tier=gold\nlanguage=go')
    await user.type(within(form).getByLabelText(/Metadata/), '{{"owner": "payments"}')
    await user.click(within(form).getByRole('button', { name: 'Create' }))
    // then
    expect(await screen.findByRole('heading', { name: 'component=invoicer' })).toBeTruthy()
    expect(api.requestsTo('POST', '/api/catalog/entities')[0]!.body).toEqual({
      key: 'component',
      value: 'invoicer',
      parentKey: '',
      parentValue: '',
      linkedPipeline: '',
      labels: [
        { key: 'tier', value: 'gold' },
        { key: 'language', value: 'go' },
      ],
      metadata: { owner: 'payments' },
    })
    expect(api.requestsTo('GET', '/api/catalog/entities')).toHaveLength(2)
  })

  it("refuses a label that is not key=value before asking the server, and shows the server's 400", async () => {
    // given
    const api = (await signIn(ADMIN_PERMISSIONS))
      .on('GET', '/api/catalog/entities', { body: page([makeEntity()]) })
      .on('PUT', '/api/catalog/entities/7', {
        status: 400,
        body: { code: 'Bad Request', message: 'parentKey and parentValue go together' },
      })
    const user = userEvent.setup()
    await renderAt(CatalogView, '/catalog')
    await user.click(await screen.findByRole('button', { name: 'application=billing' }))
    await user.click(screen.getByRole('button', { name: 'Edit' }))
    const form = screen.getByRole('form', { name: 'Edit application=billing' })
    // when
    await user.type(within(form).getByLabelText(/Labels/), '\nnot-a-label')
    await user.click(within(form).getByRole('button', { name: 'Save' }))
    // then
    expect(within(form).getByRole('alert').textContent).toMatch(/"not-a-label" is not key=value/)
    expect(api.requestsTo('PUT', '/api/catalog/entities/7')).toHaveLength(0)
    // when
    await user.clear(within(form).getByLabelText(/Labels/))
    await user.clear(within(form).getByLabelText('Parent value'))
    await user.click(within(form).getByRole('button', { name: 'Save' }))
    // then
    expect((await within(form).findByRole('alert')).textContent).toMatch(/parentKey and parentValue go together/)
    expect(api.requestsTo('PUT', '/api/catalog/entities/7')[0]!.body).toMatchObject({
      id: '7',
      parentKey: 'team',
      parentValue: '',
      labels: [],
    })
  })

  it('deletes an entity after a second click', async () => {
    // given
    const api = (await signIn(ADMIN_PERMISSIONS))
      .on('GET', '/api/catalog/entities', { body: page([makeEntity()]) })
      .on('DELETE', '/api/catalog/entities/7', { body: { code: 'OK' } })
    const user = userEvent.setup()
    await renderAt(CatalogView, '/catalog')
    await user.click(await screen.findByRole('button', { name: 'application=billing' }))
    // when
    await user.click(screen.getByRole('button', { name: 'Delete' }))
    expect(api.requestsTo('DELETE', '/api/catalog/entities/7')).toHaveLength(0)
    await user.click(screen.getByRole('button', { name: 'Delete application=billing' }))
    // then
    expect(await screen.findByText('Choose an entity to see its details.')).toBeTruthy()
    expect(api.requestsTo('DELETE', '/api/catalog/entities/7')).toHaveLength(1)
  })
})

describe('CatalogView, pipelines by label', () => {
  it("offers Estafette's default key without configured filters, and lists the pipelines of a chosen value", async () => {
    // given
    const api = installFakeApi()
      .on('GET', '/api/catalog/filters', { body: [] })
      .on('GET', '/api/catalog/filtervalues', {
        body: [
          { key: 'type', value: 'library', pipelinesCount: 1 },
          { key: 'type', value: 'service', pipelinesCount: 2 },
        ],
      })
      .on('GET', '/api/pipelines', { body: page([makePipeline({ repoName: 'billing' })]) })
    const user = userEvent.setup()
    await renderAt(CatalogView, '/catalog?view=labels')
    // when
    const values = await screen.findByRole('navigation', { name: 'Values of type' })
    await user.click(await within(values).findByRole('button', { name: 'service' }))
    // then
    expect(await screen.findByRole('link', { name: 'estafette/billing' })).toBeTruthy()
    expect(api.requestsTo('GET', '/api/catalog/filtervalues')[0]!.query.get('filter[labels]')).toBe('type')
    const query = api.requestsTo('GET', '/api/pipelines')[0]!.query
    expect(query.get('filter[labels]')).toBe('type=service')
    expect(screen.getByRole('tab', { name: 'Pipelines by label' }).getAttribute('aria-selected')).toBe('true')
  })
})
