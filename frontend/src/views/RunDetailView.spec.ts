import { screen, within } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'

import { installFakeApi, page } from '@/testing/fakeApi'
import { installFakeEventSource } from '@/testing/fakeEventSource'
import { lines, makeBotRun, makeBuild, makePipeline, makeRelease, makeStep } from '@/testing/fixtures'
import { renderAt } from '@/testing/render'

import PipelineView from './PipelineView.vue'

const PIPELINE = '/api/pipelines/github.com/estafette/estafette-ci-api'
const BUILD_PAGE = '/pipelines/github.com/estafette/estafette-ci-api/builds/101'

function fakeBuildApi(status: 'succeeded' | 'running' = 'succeeded') {
  return installFakeApi()
    .on('GET', PIPELINE, { body: makePipeline() })
    .on('GET', `${PIPELINE}/builds/101`, {
      body: makeBuild({
        buildStatus: status,
        manifest: 'stages:\n  deploy:\n    image: alpine\n    env:\n      TOKEN: ***\n',
        manifestWithDefaults: 'builder:\n  track: stable\nstages:\n  deploy:\n    image: alpine\n',
        triggerEvents: [{ fired: true, git: { event: 'push', repository: 'github.com/estafette/x', branch: 'main' } }],
      }),
    })
    .on('GET', `${PIPELINE}/builds/101/logs`, { body: { steps: [makeStep({ step: 'deploy', logLines: lines(2) })] } })
}

describe('build detail', () => {
  it('opens on the Logs tab with the stored log', async () => {
    // given
    fakeBuildApi()
    installFakeEventSource()
    // when
    await renderAt(PipelineView, BUILD_PAGE)
    // then
    expect(await screen.findByRole('heading', { name: 'Build 1.0.101' })).toBeTruthy()
    expect(screen.getByRole('tab', { name: 'Logs' }).getAttribute('aria-selected')).toBe('true')
    expect(await screen.findByText('line 2')).toBeTruthy()
  })

  it('tails the log of a running build', async () => {
    // given
    fakeBuildApi('running')
    const EventSource = installFakeEventSource()
    // when
    await renderAt(PipelineView, BUILD_PAGE)
    await screen.findByText('line 2')
    // then
    expect(EventSource.latest().url).toBe(`${PIPELINE}/builds/101/logs.stream`)
    expect(screen.getByRole('checkbox', { name: 'Follow log' })).toHaveProperty('checked', true)
    expect(screen.getByRole('button', { name: 'Cancel build 1.0.101' })).toBeTruthy()
  })

  it('reads the pipeline again when the build finishes, so its header status follows', async () => {
    // given: a running build of a running pipeline
    let buildStatus = 'running'
    const api = installFakeApi()
      .on('GET', PIPELINE, () => ({ body: makePipeline({ buildStatus }) }))
      .on('GET', `${PIPELINE}/builds/101`, () => ({ body: makeBuild({ buildStatus }) }))
      .on('GET', `${PIPELINE}/builds/101/logs`, { body: { steps: [makeStep({ step: 'deploy', logLines: lines(2) })] } })
    const EventSource = installFakeEventSource()
    const { container } = await renderAt(PipelineView, BUILD_PAGE)
    await screen.findByText('line 2')
    const pipelineReads = api.requestsTo('GET', PIPELINE).length
    // when: the build succeeds and the server closes the live tail
    buildStatus = 'succeeded'
    EventSource.latest().emit('close')
    // then
    await vi.waitFor(() => expect(api.requestsTo('GET', PIPELINE).length).toBeGreaterThan(pipelineReads))
    // (the innermost header: PipelineView is rendered by the test and again by the route)
    const header = [...container.querySelectorAll('.pipeline-header')].at(-1)!
    await vi.waitFor(() => expect(header.textContent).toContain('succeeded'))
  })

  it('shows the manifest as the API sent it, secrets masked, with or without defaults', async () => {
    // given
    fakeBuildApi()
    const user = userEvent.setup()
    await renderAt(PipelineView, BUILD_PAGE)
    // when
    await user.click(await screen.findByRole('tab', { name: 'Manifest' }))
    // then
    const manifest = await screen.findByLabelText('Manifest text')
    expect(manifest.textContent).toContain('TOKEN: ***')
    // when
    await user.click(screen.getByRole('checkbox', { name: 'Show with defaults' }))
    // then
    expect(screen.getByLabelText('Manifest text').textContent).toContain('track: stable')
  })

  it('shows the events that triggered the build', async () => {
    // given
    fakeBuildApi()
    const user = userEvent.setup()
    const { router } = await renderAt(PipelineView, BUILD_PAGE)
    // when
    await user.click(await screen.findByRole('tab', { name: 'Triggered by' }))
    // then
    const panel = await screen.findByRole('tabpanel')
    expect(within(panel).getByRole('heading', { name: 'git event' })).toBeTruthy()
    expect(panel.textContent).toContain('push')
    expect(router.currentRoute.value.path).toBe(`${BUILD_PAGE}/triggered-by`)
  })
})

describe('the commit on its forge', () => {
  it('links the revision to the commit on GitHub and names the forge in the pipeline header', async () => {
    // given
    fakeBuildApi()
    installFakeEventSource()
    // when
    await renderAt(PipelineView, BUILD_PAGE)
    await screen.findByRole('heading', { name: 'Build 1.0.101' })
    // then
    const build = await screen.findByRole('link', {
      name: (_, element) => element.getAttribute('title')?.endsWith('on GitHub') ?? false,
    })
    expect(build.getAttribute('href')).toMatch(
      /^https:\/\/github\.com\/estafette\/estafette-ci-api\/commit\/[0-9a-f]+$/,
    )
    const header = document.querySelector('.pipeline-header') as HTMLElement
    expect(within(header).getByRole('link', { name: 'GitHub' }).getAttribute('href')).toBe(
      'https://github.com/estafette/estafette-ci-api',
    )
  })
})

describe('release detail', () => {
  it('shows the release and, on the Manifest tab, the manifest of the released build', async () => {
    // given
    installFakeApi()
      .on('GET', PIPELINE, { body: makePipeline() })
      .on('GET', `${PIPELINE}/releases/7`, {
        body: makeRelease({ name: 'production', action: 'deploy', releaseStatus: 'running' }),
      })
      .on('GET', `${PIPELINE}/builds/version/1.0.101`, {
        body: makeBuild({ manifest: 'releases:\n  production: {}\n' }),
      })
    installFakeEventSource()
    // when
    await renderAt(PipelineView, '/pipelines/github.com/estafette/estafette-ci-api/releases/7/manifest')
    // then
    expect(await screen.findByRole('heading', { name: 'Release 1.0.101 to production (deploy)' })).toBeTruthy()
    expect((await screen.findByLabelText('Manifest text')).textContent).toContain('production: {}')
    expect(screen.getByRole('button', { name: 'Cancel release to production 1.0.101' })).toBeTruthy()
  })

  it('finds the released build among the succeeded builds when the API has no by-version route', async () => {
    // given
    installFakeApi()
      .on('GET', PIPELINE, { body: makePipeline() })
      .on('GET', `${PIPELINE}/releases/7`, {
        body: makeRelease({ releaseVersion: '1.0.101', releaseStatus: 'succeeded' }),
      })
      .on('GET', `${PIPELINE}/builds`, {
        body: page([
          makeBuild({ id: '100', buildVersion: '1.0.100' }),
          makeBuild({ id: '101', buildVersion: '1.0.101' }),
        ]),
      })
      .on('GET', `${PIPELINE}/builds/101`, { body: makeBuild({ manifest: 'releases:\n  staging: {}\n' }) })
    // when
    await renderAt(PipelineView, '/pipelines/github.com/estafette/estafette-ci-api/releases/7/manifest')
    // then
    expect((await screen.findByLabelText('Manifest text')).textContent).toContain('staging: {}')
  })
})

describe('bot run detail', () => {
  it('shows the bot run with its logs and what triggered it, and no manifest of its own', async () => {
    // given a running bot run
    const api = installFakeApi()
      .on('GET', PIPELINE, { body: makePipeline() })
      .on('GET', `${PIPELINE}/bots/12`, {
        body: makeBotRun({
          botStatus: 'running',
          triggerEvents: [{ fired: true, cron: { time: '2026-11-26T11:00:00Z' } }],
        }),
      })
      .on('GET', `${PIPELINE}/bots/12/logs`, { body: { steps: [makeStep({ step: 'tidy', logLines: lines(2) })] } })
      .on('DELETE', `${PIPELINE}/bots/12`, { body: makeBotRun({ botStatus: 'canceling' }) })
    const EventSource = installFakeEventSource()
    const user = userEvent.setup()
    // when its page is opened
    await renderAt(PipelineView, '/pipelines/github.com/estafette/estafette-ci-api/bots/12')
    // then it shows its log, tails it, and has no Manifest tab
    expect(await screen.findByRole('heading', { name: 'Bot stale-issues' })).toBeTruthy()
    expect(await screen.findByText('line 2')).toBeTruthy()
    expect(EventSource.latest().url).toBe(`${PIPELINE}/bots/12/logs.stream`)
    expect(screen.getAllByRole('tab').map((tab) => tab.textContent!.trim())).toEqual(['Logs', 'Triggered by'])
    expect(screen.getByRole('tablist').getAttribute('aria-label')).toBe('Bot run sections')
    // when the operator opens what triggered it, then cancels it
    await user.click(screen.getByRole('tab', { name: 'Triggered by' }))
    expect(await screen.findByRole('heading', { name: 'cron event' })).toBeTruthy()
    await user.click(screen.getByRole('button', { name: 'Cancel bot stale-issues' }))
    // then the API is asked to cancel it
    await vi.waitFor(() => expect(api.requestsTo('DELETE', `${PIPELINE}/bots/12`)).toHaveLength(1))
  })

  it('shows the logs for a tab the kind has not', async () => {
    // given
    installFakeApi()
      .on('GET', PIPELINE, { body: makePipeline() })
      .on('GET', `${PIPELINE}/bots/12`, { body: makeBotRun() })
      .on('GET', `${PIPELINE}/bots/12/logs`, { body: { steps: [makeStep({ step: 'tidy', logLines: lines(2) })] } })
    installFakeEventSource()
    // when
    await renderAt(PipelineView, '/pipelines/github.com/estafette/estafette-ci-api/bots/12/manifest')
    // then
    expect(await screen.findByText('line 2')).toBeTruthy()
    expect(screen.getByRole('tab', { name: 'Logs' }).getAttribute('aria-selected')).toBe('true')
  })
})
