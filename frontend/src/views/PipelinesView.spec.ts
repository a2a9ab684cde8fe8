import { screen, within } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'

import { installFakeApi, page, type FakeApi } from '@/testing/fakeApi'
import { makePipeline, makeActiveRelease } from '@/testing/fixtures'
import { renderAt } from '@/testing/render'
import App from '@/App.vue'

import PipelinesView from './PipelinesView.vue'

function fakePipelines(): FakeApi {
  const api = installFakeApi()
  api.on('GET', '/api/pipelines', (request) =>
    Promise.resolve({
      body: page(
        [
          makePipeline({
            buildStatus: 'failed',
            releaseTargets: [
              {
                name: 'production',
                actions: [
                  { name: 'deploy', hideBadge: false },
                  { name: 'rollback', hideBadge: true },
                ],
                activeReleases: [
                  makeActiveRelease({ id: '9', name: 'production', action: 'deploy', releaseStatus: 'running' }),
                ],
              },
              { name: 'staging', actions: [], activeReleases: [] },
            ],
          }),
          makePipeline({ repoName: 'estafette-ci-web', id: '202', buildVersion: '0.9.2', buildStatus: 'running' }),
        ],
        Number(request.query.get('page[number]') ?? 1),
        20,
        45,
      ),
    }),
  )
  return api
}

const lastQuery = (api: FakeApi) => api.requestsTo('GET', '/api/pipelines').at(-1)!.query

describe('PipelinesView', () => {
  it('lists pipelines with status colours, release badges per target and labels', async () => {
    // given
    fakePipelines()
    // when
    await renderAt(PipelinesView, '/pipelines')
    // then
    const row = (await screen.findByRole('link', { name: 'estafette/estafette-ci-api' })).closest('tr')!
    expect(within(row).getByText('failed').className).toContain('status-failed')
    const badges = within(row).getByRole('list', { name: 'Releases' })
    expect(
      within(badges)
        .getAllByRole('listitem')
        .map((item) => item.textContent!.replace(/\s+/g, '')),
    ).toEqual(['productiondeploy1.0.101', 'staging–'])
    expect(within(badges).getByRole('link').className).toContain('status-running')
    expect(within(row).getByRole('button', { name: 'team=ci' })).toBeTruthy()
    const other = screen.getByRole('link', { name: 'estafette/estafette-ci-web' }).closest('tr')!
    expect(within(other).getByText('running').className).toContain('status-running')
  })

  it('reads its filters from the address and sends them to the API', async () => {
    // given
    const api = fakePipelines()
    // when
    await renderAt(PipelinesView, '/pipelines?status=failed&since=1w&label=team=ci&label=lang=go&search=api&page=2')
    await screen.findByRole('link', { name: 'estafette/estafette-ci-api' })
    // then
    const query = lastQuery(api)
    expect(query.get('filter[status]')).toBe('failed')
    expect(query.get('filter[since]')).toBe('1w')
    expect(query.getAll('filter[labels]')).toEqual(['team=ci', 'lang=go'])
    expect(query.get('filter[search]')).toBe('api')
    expect(query.get('page[number]')).toBe('2')
    expect((screen.getByLabelText('Status') as HTMLSelectElement).value).toBe('failed')
    expect((screen.getByLabelText('Search') as HTMLInputElement).value).toBe('api')
  })

  it('puts a chosen status in the address, back on page 1, and reloads', async () => {
    // given
    const api = fakePipelines()
    const user = userEvent.setup()
    const { router } = await renderAt(PipelinesView, '/pipelines?page=3')
    await screen.findByRole('link', { name: 'estafette/estafette-ci-api' })
    // when
    await user.selectOptions(screen.getByLabelText('Status'), 'failed')
    await user.selectOptions(screen.getByLabelText('Since'), '1d')
    // then
    await vi.waitFor(() => expect(lastQuery(api).get('filter[since]')).toBe('1d'))
    expect(router.currentRoute.value.query).toEqual({ status: 'failed', since: '1d' })
    expect(lastQuery(api).get('filter[status]')).toBe('failed')
    expect(lastQuery(api).has('page[number]')).toBe(false)
  })

  it('applies the search text on Enter', async () => {
    // given
    const api = fakePipelines()
    const user = userEvent.setup()
    const { router } = await renderAt(PipelinesView, '/pipelines')
    await screen.findByRole('link', { name: 'estafette/estafette-ci-api' })
    // when
    await user.type(screen.getByLabelText('Search'), 'web{Enter}')
    // then
    await vi.waitFor(() => expect(lastQuery(api).get('filter[search]')).toBe('web'))
    expect(router.currentRoute.value.query).toEqual({ search: 'web' })
  })

  it('adds and removes label filters', async () => {
    // given
    const api = fakePipelines()
    const user = userEvent.setup()
    const { router } = await renderAt(PipelinesView, '/pipelines')
    await screen.findByRole('link', { name: 'estafette/estafette-ci-api' })
    // when
    await user.type(screen.getByLabelText('Label'), 'team=ci{Enter}')
    // then
    await vi.waitFor(() => expect(lastQuery(api).getAll('filter[labels]')).toEqual(['team=ci']))
    expect(router.currentRoute.value.query).toEqual({ label: ['team=ci'] })
    // when
    await user.click(screen.getByRole('button', { name: 'Remove label filter team=ci' }))
    // then
    await vi.waitFor(() => expect(lastQuery(api).has('filter[labels]')).toBe(false))
    expect(router.currentRoute.value.query).toEqual({})
  })

  it('explains a label it cannot use instead of filtering', async () => {
    // given
    const api = fakePipelines()
    const user = userEvent.setup()
    const { router } = await renderAt(PipelinesView, '/pipelines')
    await screen.findByRole('link', { name: 'estafette/estafette-ci-api' })
    const before = api.requests.length
    // when
    await user.type(screen.getByLabelText('Label'), 'no equals sign{Enter}')
    // then
    expect(screen.getByText('Write a label as key=value, for example team=ci.')).toBeTruthy()
    expect(screen.getByLabelText('Label').getAttribute('aria-invalid')).toBe('true')
    expect(router.currentRoute.value.query).toEqual({})
    expect(api.requests.length).toBe(before)
  })

  it('pages through the list', async () => {
    // given
    const api = fakePipelines()
    const user = userEvent.setup()
    const { router } = await renderAt(PipelinesView, '/pipelines?status=failed')
    await screen.findByText('Page 1 of 3 (45 in all)')
    // when
    await user.click(screen.getByRole('button', { name: 'Next page' }))
    // then
    await screen.findByText('Page 2 of 3 (45 in all)')
    expect(router.currentRoute.value.query).toEqual({ status: 'failed', page: '2' })
    expect(lastQuery(api).get('page[number]')).toBe('2')
    expect(lastQuery(api).get('filter[status]')).toBe('failed')
  })

  it('shows the API error and loads again on request', async () => {
    // given
    const api = installFakeApi().on('GET', '/api/pipelines', {
      status: 400,
      body: { code: 'Bad Request', message: 'filter[since] must be one of 1h, 1d, 1w, 1m, 1y, eternity' },
    })
    const user = userEvent.setup()
    await renderAt(PipelinesView, '/pipelines?since=2w')
    // when
    const alert = await screen.findByRole('alert')
    api.on('GET', '/api/pipelines', { body: page([makePipeline()]) })
    await user.click(within(alert).getByRole('button', { name: 'Try again' }))
    // then
    expect(alert.textContent).toContain('filter[since] must be one of')
    expect(await screen.findByRole('link', { name: 'estafette/estafette-ci-api' })).toBeTruthy()
  })

  it('opens a pipeline from its row through the router, and leaves modified clicks to the browser', async () => {
    // given
    fakePipelines()
      .on('GET', '/api/me', { body: { username: 'ada' } })
      .on('GET', '/api/pipelines/github.com/estafette/estafette-ci-api', { body: makePipeline() })
      .on('GET', '/api/pipelines/github.com/estafette/estafette-ci-api/builds', { body: page([]) })
    const user = userEvent.setup()
    const { router } = await renderAt(App, '/pipelines')
    const link = await screen.findByRole('link', { name: 'estafette/estafette-ci-api' })
    // (jsdom cannot open a new tab: stop it after the app had its chance to react)
    const stopJsdomNavigation = (event: MouseEvent) => event.ctrlKey && event.preventDefault()
    document.addEventListener('click', stopJsdomNavigation)
    // when
    await user.keyboard('{Control>}')
    await user.click(link)
    await user.keyboard('{/Control}')
    document.removeEventListener('click', stopJsdomNavigation)
    // then
    expect(router.currentRoute.value.name).toBe('pipelines')
    // when
    await user.click(link)
    // then
    await vi.waitFor(() => expect(router.currentRoute.value.name).toBe('pipeline-overview'))
    expect(router.currentRoute.value.params).toEqual({
      source: 'github.com',
      owner: 'estafette',
      name: 'estafette-ci-api',
    })
  })
})
