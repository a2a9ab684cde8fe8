import { render, screen } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import type { Build } from '@/api/types'
import { installFakeApi } from '@/testing/fakeApi'
import { makeBuild, makeRelease, pipelineKey } from '@/testing/fixtures'

import ReleaseControl from './ReleaseControl.vue'

const RELEASES_PATH = '/api/pipelines/github.com/estafette/estafette-ci-api/releases'

function renderControl(build: Build) {
  return render(ReleaseControl, { props: { pipeline: pipelineKey, build } })
}

describe('ReleaseControl', () => {
  it('releases a succeeded build to the chosen target and action', async () => {
    // given
    const api = installFakeApi().on('POST', RELEASES_PATH, (request) => ({
      status: 201,
      body: makeRelease({ id: '8', ...(request.body as object), releaseStatus: 'pending' }),
    }))
    const user = userEvent.setup()
    const { emitted } = renderControl(makeBuild({ buildVersion: '1.0.101', buildStatus: 'succeeded' }))
    // when
    await user.click(screen.getByText('Release…'))
    await user.selectOptions(screen.getByLabelText('Release target'), 'production')
    await user.selectOptions(screen.getByLabelText('Release action'), 'deploy-stable')
    await user.click(screen.getByRole('button', { name: 'Release 1.0.101' }))
    // then
    expect(await screen.findByRole('status')).toHaveProperty(
      'textContent',
      expect.stringContaining('Release of 1.0.101 to production (deploy-stable) started.'),
    )
    expect(api.requestsTo('POST', RELEASES_PATH).map((request) => request.body)).toEqual([
      {
        name: 'production',
        action: 'deploy-stable',
        repoSource: 'github.com',
        repoOwner: 'estafette',
        repoName: 'estafette-ci-api',
        releaseVersion: '1.0.101',
      },
    ])
    expect(emitted().released).toHaveLength(1)
  })

  it('offers the actions of the chosen target only, and none for a target without actions', async () => {
    // given
    const user = userEvent.setup()
    renderControl(makeBuild())
    await user.click(screen.getByText('Release…'))
    // when: the first target (staging) has no actions
    // then
    expect(screen.queryByLabelText('Release action')).toBeNull()
    // when
    await user.selectOptions(screen.getByLabelText('Release target'), 'production')
    // then
    const options = Array.from((screen.getByLabelText('Release action') as HTMLSelectElement).options)
    expect(options.map((option) => option.value)).toEqual(['deploy-canary', 'deploy-stable', 'rollback-canary'])
  })

  it('sends an empty action for a target without actions', async () => {
    // given
    const api = installFakeApi().on('POST', RELEASES_PATH, { status: 201, body: makeRelease() })
    const user = userEvent.setup()
    renderControl(makeBuild())
    // when
    await user.click(screen.getByText('Release…'))
    await user.click(screen.getByRole('button', { name: 'Release 1.0.101' }))
    // then
    await screen.findByRole('status')
    expect(api.requests[0]!.body).toMatchObject({ name: 'staging', action: '' })
  })

  it('shows why the API refused the release', async () => {
    // given
    installFakeApi().on('POST', RELEASES_PATH, {
      status: 403,
      body: { code: 'Forbidden', message: 'Release not allowed on this branch' },
    })
    const user = userEvent.setup()
    const { emitted } = renderControl(makeBuild())
    // when
    await user.click(screen.getByText('Release…'))
    await user.click(screen.getByRole('button', { name: 'Release 1.0.101' }))
    // then
    expect((await screen.findByRole('alert')).textContent).toBe('Release not allowed on this branch')
    expect(emitted().released).toBeUndefined()
  })

  it.each(['failed', 'running', 'pending', 'canceled'] as const)('is not offered for a %s build', (status) => {
    // when
    renderControl(makeBuild({ buildStatus: status }))
    // then
    expect(screen.queryByText('Release…')).toBeNull()
    expect(screen.queryByRole('button', { name: /Release/ })).toBeNull()
  })

  it('is not offered when the manifest has no release targets', () => {
    // when
    renderControl(makeBuild({ releaseTargets: [] }))
    // then
    expect(screen.queryByText('Release…')).toBeNull()
  })
})
