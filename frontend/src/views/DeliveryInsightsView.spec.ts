import { screen } from '@testing-library/vue'
import { describe, expect, it } from 'vitest'

import { installFakeApi } from '@/testing/fakeApi'
import { renderAt } from '@/testing/render'

import DeliveryInsightsView from './DeliveryInsightsView.vue'
import LogSearchView from './LogSearchView.vue'

function metrics(perDay: number, leadSeconds: number | null) {
  return {
    deploymentFrequency: { perDay, deployments: 3, previousPerDay: 0.1, trend: 'better', band: 'high' },
    leadTimeForChanges: { seconds: leadSeconds, previousSeconds: null, trend: null, band: 'elite' },
    changeFailureRate: { rate: 0.25, changes: 4, failedChanges: 1, previousRate: null, trend: null, band: 'low' },
    timeToRestore: { seconds: 7200, failures: 1, unrestored: 0, previousSeconds: null, trend: null, band: 'high' },
  }
}

describe('DeliveryInsightsView', () => {
  it('shows the DORA metrics with trend and band, and charts them per pipeline', async () => {
    // given
    const api = installFakeApi().on('GET', '/api/insights/dora', {
      body: {
        window: { since: '2026-03-01T00:00:00Z', until: '2026-03-31T00:00:00Z' },
        previousWindow: { since: '2026-01-30T00:00:00Z', until: '2026-03-01T00:00:00Z' },
        productionTargets: ['production', 'prod'],
        overall: metrics(0.3, 3600 * 5),
        pipelines: [{ repoSource: 'github.com', repoOwner: 'acme', repoName: 'api', metrics: metrics(0.3, 3600 * 5) }],
        labels: [],
      },
    })
    // when
    await renderAt(DeliveryInsightsView, '/delivery?since=7d&label=team%3Dpayments')
    // then
    expect((await screen.findAllByText('0.30 / day')).length).toBeGreaterThan(0)
    expect(screen.getAllByText('5.0 h').length).toBeGreaterThan(0)
    expect(screen.getByText('25 %')).toBeTruthy()
    expect(screen.getByText('1 of 4 changes')).toBeTruthy()
    expect(screen.getByRole('img', { name: 'Deployment frequency by pipeline' })).toBeTruthy()
    const query = api.requestsTo('GET', '/api/insights/dora')[0]!.query
    expect(query.get('filter[since]')).toBe('7d')
    expect(query.getAll('filter[labels]')).toEqual(['team=payments'])
  })
})

describe('LogSearchView', () => {
  it('searches what the address says and links each line to its log', async () => {
    // given
    const api = installFakeApi().on('GET', '/api/logs/search', {
      body: {
        items: [
          {
            repoSource: 'github.com',
            repoOwner: 'acme',
            repoName: 'api',
            runKind: 'build',
            runId: '7',
            logId: '9',
            attempt: 1,
            step: 'test',
            parentStage: '',
            stepId: '3',
            line: 12,
            text: 'connection refused',
            insertedAt: '2026-03-01T00:00:00Z',
            link: '/pipelines/github.com/acme/api/builds/7/logs#step=test&line=12',
          },
        ],
        pagination: { page: 1, size: 50, hasMore: false },
      },
    })
    // when
    await renderAt(LogSearchView, '/logs/search?q=refused%20status%3Afailed')
    // then
    expect(await screen.findByText('connection refused')).toBeTruthy()
    const link = screen.getByRole('link', { name: /acme\/api · build 7 · test · line 12/ })
    expect(link.getAttribute('href')).toBe('/pipelines/github.com/acme/api/builds/7/logs#step=test&line=12')
    expect(api.requestsTo('GET', '/api/logs/search')[0]!.query.get('q')).toBe('refused status:failed')
  })
})
