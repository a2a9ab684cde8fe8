import { screen, within } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it, vi } from 'vitest'

import { installFakeApi, page } from '@/testing/fakeApi'
import { installFakeEventSource } from '@/testing/fakeEventSource'
import { makeBuild, makePipeline, makeActiveRelease } from '@/testing/fixtures'
import { renderAt } from '@/testing/render'

import PipelineView from './PipelineView.vue'

const PIPELINE = '/api/pipelines/github.com/estafette/estafette-ci-api'
const OVERVIEW = '/pipelines/github.com/estafette/estafette-ci-api/overview'

function fakePipelineApi() {
  return installFakeApi()
    .on('GET', PIPELINE, {
      body: makePipeline({
        releaseTargets: [
          {
            name: 'production',
            actions: [
              { name: 'deploy', hideBadge: false },
              { name: 'rollback', hideBadge: false },
            ],
            activeReleases: [
              makeActiveRelease({ id: '12', name: 'production', action: 'deploy', releaseVersion: '1.0.99' }),
            ],
          },
        ],
      }),
    })
    .on('GET', `${PIPELINE}/builds`, {
      body: page([
        makeBuild({ id: '103', buildVersion: '1.0.103', buildStatus: 'running', repoBranch: 'main' }),
        makeBuild({ id: '102', buildVersion: '1.0.102', buildStatus: 'failed', repoBranch: 'feature-x' }),
        makeBuild({ id: '101', buildVersion: '1.0.101', buildStatus: 'succeeded', repoBranch: 'main' }),
        // A succeeded build whose manifest has no release targets (the pipeline's latest build has some).
        makeBuild({
          id: '100',
          buildVersion: '1.0.100',
          buildStatus: 'succeeded',
          repoBranch: 'docs',
          releaseTargets: [],
        }),
      ]),
    })
}

describe('PipelineOverviewView', () => {
  it('shows the current version per release target and action', async () => {
    // given
    fakePipelineApi()
    // when
    await renderAt(PipelineView, OVERVIEW)
    // then
    const table = await screen.findByRole('table', { name: 'Current release per target and action' })
    const rows = within(table)
      .getAllByRole('row')
      .slice(1)
      .map((row) =>
        within(row)
          .getAllByRole('cell')
          .slice(0, 3)
          .map((cell) => cell.textContent!.trim()),
      )
    expect(rows).toEqual([
      ['production', 'deploy', '1.0.99'],
      ['production', 'rollback', 'never released'],
    ])
  })

  it('groups recent builds by branch, newest branch first', async () => {
    // given
    const api = fakePipelineApi()
    // when
    await renderAt(PipelineView, OVERVIEW)
    // then
    const main = await screen.findByRole('region', { name: 'Branch main' })
    // each build links its page, and its revision its commit on the forge (a new tab)
    const ownLinks = (region: HTMLElement) =>
      within(region)
        .getAllByRole('link')
        .filter((link) => link.getAttribute('target') !== '_blank')
        .map((link) => link.textContent!.trim())
    expect(ownLinks(main)).toEqual(['1.0.103', '1.0.101'])
    const feature = screen.getByRole('region', { name: 'Branch feature-x' })
    expect(ownLinks(feature)).toEqual(['1.0.102'])
    const commits = within(main)
      .getAllByRole('link')
      .filter((link) => link.getAttribute('target') === '_blank')
    expect(commits).toHaveLength(2)
    expect(commits[0]!.getAttribute('href')).toMatch(/^https:\/\/github\.com\/[^/]+\/[^/]+\/commit\/[0-9a-f]+$/)
    expect(api.requestsTo('GET', `${PIPELINE}/builds`)[0]!.query.get('page[size]')).toBe('50')
  })

  it('offers cancel for a running build, rebuild for a failed one and release for a succeeded one', async () => {
    // given
    fakePipelineApi()
    // when
    await renderAt(PipelineView, OVERVIEW)
    // then
    const main = await screen.findByRole('region', { name: 'Branch main' })
    expect(within(main).getByRole('button', { name: 'Cancel build 1.0.103' })).toBeTruthy()
    expect(within(main).queryByRole('button', { name: 'Rebuild 1.0.103' })).toBeNull()
    expect(within(main).getAllByText('Release…')).toHaveLength(1)
    const feature = screen.getByRole('region', { name: 'Branch feature-x' })
    expect(within(feature).getByRole('button', { name: 'Rebuild 1.0.102' })).toBeTruthy()
    expect(within(feature).queryByRole('button', { name: /Cancel/ })).toBeNull()
  })

  it('offers no release of a build whose own manifest has no release targets', async () => {
    // given
    fakePipelineApi()
    // when
    await renderAt(PipelineView, OVERVIEW)
    // then
    const docs = await screen.findByRole('region', { name: 'Branch docs' })
    expect(within(docs).getByRole('link', { name: '1.0.100' }).getAttribute('href')).toMatch(/\/builds\/100$/)
    expect(within(docs).queryByText('Release…')).toBeNull()
  })

  it('cancels a running build and reloads', async () => {
    // given
    const api = fakePipelineApi().on('DELETE', `${PIPELINE}/builds/103`, { status: 200, body: {} })
    const user = userEvent.setup()
    await renderAt(PipelineView, OVERVIEW)
    // when
    await user.click(await screen.findByRole('button', { name: 'Cancel build 1.0.103' }))
    // then
    expect(api.requestsTo('DELETE', `${PIPELINE}/builds/103`)).toHaveLength(1)
    await vi.waitFor(() => expect(api.requestsTo('GET', `${PIPELINE}/builds`)).toHaveLength(2))
  })

  it('rebuilds a failed version and opens the new build', async () => {
    // given
    const api = fakePipelineApi()
      .on('POST', `${PIPELINE}/builds`, { status: 201, body: makeBuild({ id: '104', buildVersion: '1.0.102' }) })
      .on('GET', `${PIPELINE}/builds/104`, { body: makeBuild({ id: '104', buildStatus: 'pending' }) })
    installFakeEventSource()
    const user = userEvent.setup()
    const { router } = await renderAt(PipelineView, OVERVIEW)
    // when
    await user.click(await screen.findByRole('button', { name: 'Rebuild 1.0.102' }))
    // then
    expect(api.requestsTo('POST', `${PIPELINE}/builds`)[0]!.body).toEqual({
      repoSource: 'github.com',
      repoOwner: 'estafette',
      repoName: 'estafette-ci-api',
      buildVersion: '1.0.102',
    })
    await vi.waitFor(() => expect(router.currentRoute.value.params.id).toBe('104'))
  })

  it('shows why a cancel was refused', async () => {
    // given
    fakePipelineApi().on('DELETE', `${PIPELINE}/builds/103`, {
      status: 409,
      body: { code: 'Conflict', message: 'Build 103 already finished' },
    })
    const user = userEvent.setup()
    await renderAt(PipelineView, OVERVIEW)
    // when
    await user.click(await screen.findByRole('button', { name: 'Cancel build 1.0.103' }))
    // then
    expect((await screen.findByRole('alert')).textContent).toBe('Build 103 already finished')
  })
})
