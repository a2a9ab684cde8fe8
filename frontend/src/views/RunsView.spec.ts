import { screen, within } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'

import { installFakeApi, page } from '@/testing/fakeApi'
import { makeBotRun, makeBuild, makePipeline, makeRelease } from '@/testing/fixtures'
import { renderAt } from '@/testing/render'

import PipelineView from './PipelineView.vue'
import RunsView from './RunsView.vue'

const PIPELINE = '/api/pipelines/github.com/estafette/estafette-ci-api'
const PIPELINE_PAGE = '/pipelines/github.com/estafette/estafette-ci-api'

const columns = () =>
  screen.getAllByRole('columnheader').map((header) => header.textContent!.replace(/\s+/g, ' ').trim())
const filterLabels = () =>
  ['Status', 'Since', 'Label', 'Search', 'Branch', 'Release target'].filter(
    (label) => screen.queryByLabelText(label) !== null,
  )

describe('runs across all pipelines', () => {
  it('lists builds with their pipeline, branch and commit, filtered as the address says', async () => {
    // given
    const api = installFakeApi().on('GET', '/api/builds', { body: page([makeBuild()]) })
    // when
    await renderAt(RunsView, '/builds?status=failed&search=api')
    // then
    const link = await screen.findByRole('link', { name: '1.0.101' })
    expect(link.getAttribute('href')).toBe(`${PIPELINE_PAGE}/builds/101`)
    expect(screen.getByRole('heading', { level: 1, name: 'Builds' })).toBeTruthy()
    expect(columns()).toEqual(['Pipeline', 'Version', 'Status', 'Branch', 'Commit', 'Started', 'Duration', 'Actions'])
    expect(screen.getByRole('link', { name: 'estafette/estafette-ci-api' })).toBeTruthy()
    expect(screen.getByText('Add the live tail')).toBeTruthy()
    expect(filterLabels()).toEqual(['Status', 'Since', 'Label', 'Search'])
    const query = api.requestsTo('GET', '/api/builds').at(-1)!.query
    expect([query.get('filter[status]'), query.get('filter[search]')]).toEqual(['failed', 'api'])
  })

  it("opens Estafette's address for all releases on the releases list, keeping its filters", async () => {
    // given
    const api = installFakeApi().on('GET', '/api/releases', {
      body: page([makeRelease({ name: 'production', action: 'deploy' })]),
    })
    // when
    const { router } = await renderAt(RunsView, '/pipelines/releases?status=failed')
    // then
    expect(router.currentRoute.value.fullPath).toBe('/releases?status=failed')
    expect(await screen.findByRole('link', { name: '1.0.101' })).toBeTruthy()
    expect(columns()).toEqual(['Pipeline', 'Target', 'Version', 'Status', 'Started', 'Duration', 'Actions'])
    expect(screen.getByRole('cell', { name: 'production (deploy)' })).toBeTruthy()
    expect(api.requestsTo('GET', '/api/releases').at(-1)!.query.get('filter[status]')).toBe('failed')
  })

  it('lists bot runs by name', async () => {
    // given
    installFakeApi().on('GET', '/api/bots', { body: page([makeBotRun({ botStatus: 'failed' })]) })
    // when
    await renderAt(RunsView, '/bots')
    // then
    const link = await screen.findByRole('link', { name: 'stale-issues' })
    expect(link.getAttribute('href')).toBe(`${PIPELINE_PAGE}/bots/12`)
    expect(columns()).toEqual(['Pipeline', 'Bot', 'Status', 'Started', 'Duration', 'Actions'])
    expect(within(link.closest('tr')!).getByText('failed')).toBeTruthy()
  })

  it('says so when no run matches', async () => {
    // given
    installFakeApi().on('GET', '/api/bots', { body: page([]) })
    // when
    await renderAt(RunsView, '/bots')
    // then
    expect(await screen.findByText('No bot run matches these filters.')).toBeTruthy()
  })
})

describe("a pipeline's runs", () => {
  it('lists its builds without a pipeline column, filtered by branch', async () => {
    // given
    const api = installFakeApi()
      .on('GET', PIPELINE, { body: makePipeline() })
      .on('GET', `${PIPELINE}/builds`, { body: page([makeBuild()]) })
    // when
    await renderAt(PipelineView, `${PIPELINE_PAGE}/builds?branch=main`)
    // then
    expect(await screen.findByRole('link', { name: '1.0.101' })).toBeTruthy()
    expect(screen.getByRole('region', { name: 'Builds' })).toBeTruthy()
    expect(columns()).toEqual(['Version', 'Status', 'Branch', 'Commit', 'Started', 'Duration', 'Actions'])
    expect(filterLabels()).toEqual(['Status', 'Since', 'Branch'])
    expect(api.requestsTo('GET', `${PIPELINE}/builds`).at(-1)!.query.get('filter[branch]')).toBe('main')
  })

  it('opens the new build after a rebuild', async () => {
    // given a failed build
    const api = installFakeApi()
      .on('GET', PIPELINE, { body: makePipeline() })
      .on('GET', `${PIPELINE}/builds`, { body: page([makeBuild({ buildStatus: 'failed' })]) })
      .on('POST', `${PIPELINE}/builds`, { status: 201, body: makeBuild({ id: '202', buildStatus: 'pending' }) })
    const user = userEvent.setup()
    const { router } = await renderAt(PipelineView, `${PIPELINE_PAGE}/builds`)
    // when
    await user.click(await screen.findByRole('button', { name: 'Rebuild 1.0.101' }))
    // then
    expect(api.requestsTo('POST', `${PIPELINE}/builds`)[0]!.body).toMatchObject({ buildVersion: '1.0.101' })
    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe(`${PIPELINE_PAGE}/builds/202`))
  })

  it('does not offer to rebuild a version built from an invalid manifest, and says why', async () => {
    // given a build that failed on its invalid manifest
    const api = installFakeApi()
      .on('GET', PIPELINE, { body: makePipeline() })
      .on('GET', `${PIPELINE}/builds`, { body: page([makeBuild({ buildStatus: 'failed', manifestValid: false })]) })
    await renderAt(PipelineView, `${PIPELINE_PAGE}/builds`)
    // when
    const rebuild = (await screen.findByRole('button', { name: 'Rebuild 1.0.101' })) as HTMLButtonElement
    // then
    expect(rebuild.disabled).toBe(true)
    expect(rebuild.title).toMatch(/built from an invalid manifest .* push a new commit/)
    expect(screen.getByText(/built from an invalid manifest/)).toBeTruthy()
    expect(api.requestsTo('POST', `${PIPELINE}/builds`)).toHaveLength(0)
  })

  it("goes from one kind's tab to another's", async () => {
    // given its builds tab
    installFakeApi()
      .on('GET', PIPELINE, { body: makePipeline() })
      .on('GET', `${PIPELINE}/builds`, { body: page([makeBuild()]) })
      .on('GET', `${PIPELINE}/releases`, { body: page([makeRelease({ name: 'staging' })]) })
      .on('GET', `${PIPELINE}/bots`, { body: page([makeBotRun()]) })
    const user = userEvent.setup()
    await renderAt(PipelineView, `${PIPELINE_PAGE}/builds`)
    await screen.findByRole('link', { name: '1.0.101' })
    const tabs = screen.getAllByRole('navigation', { name: 'Pipeline' }).at(-1)!
    expect(
      within(tabs)
        .getAllByRole('link')
        .map((link) => link.textContent),
    ).toEqual(['Overview', 'Builds', 'Releases', 'Bots', 'Triggers', 'Insights'])
    // when the operator opens the releases tab, then the bots tab
    await user.click(within(tabs).getByRole('link', { name: 'Releases' }))
    // then each shows its own kind
    expect(await screen.findByRole('cell', { name: 'staging' })).toBeTruthy()
    expect(columns()).toEqual(['Target', 'Version', 'Status', 'Started', 'Duration', 'Actions'])
    expect(filterLabels()).toEqual(['Status', 'Since', 'Release target'])
    await user.click(within(tabs).getByRole('link', { name: 'Bots' }))
    expect(await screen.findByRole('link', { name: 'stale-issues' })).toBeTruthy()
    expect(columns()).toEqual(['Bot', 'Status', 'Started', 'Duration', 'Actions'])
  })
})
