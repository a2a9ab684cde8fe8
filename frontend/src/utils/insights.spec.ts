import { describe, expect, it } from 'vitest'

import { adoptionChart, durationChart, rankingChart } from './insights'

describe('insights series', () => {
  it('turns first-run times into a running total of pipelines per day, in any order given', () => {
    const chart = adoptionChart('Pipelines', [
      '2026-11-03T09:00:00Z',
      '2026-11-01T10:00:00Z',
      '2026-11-01T23:59:59Z',
      '2026-11-05T00:00:00Z',
    ])
    expect(chart.labels).toEqual(['2026-11-01', '2026-11-03', '2026-11-05'])
    expect(chart.series).toEqual([{ label: 'Pipelines', data: [2, 3, 4] }])
  })

  it('has no points without adoption', () => {
    expect(adoptionChart('Pipelines', [])).toEqual({ labels: [], series: [{ label: 'Pipelines', data: [] }] })
  })

  it('names each ranked pipeline by owner and name, keeping the ranking order', () => {
    const chart = rankingChart('Builds', [
      { repo_source: 'github.com', repo_owner: 'acme', repo_name: 'api', nr_records: 12 },
      { repo_source: 'bitbucket.org', repo_owner: 'acme', repo_name: 'web', nr_records: 3 },
    ])
    expect(chart).toEqual({ labels: ['acme/api', 'acme/web'], series: [{ label: 'Builds', data: [12, 3] }] })
  })

  it('charts durations oldest first, in minutes', () => {
    const minute = 60_000_000_000
    const chart = durationChart([
      { insertedAt: '2026-11-02T10:30:00Z', duration: 3 * minute, pendingDuration: minute / 2 },
      { insertedAt: '2026-11-01T08:00:00Z', duration: 90 * 1_000_000_000, pendingDuration: 0 },
    ])
    expect(chart.labels).toEqual(['2026-11-01 08:00', '2026-11-02 10:30'])
    expect(chart.series).toEqual([
      { label: 'Running (minutes)', data: [1.5, 3] },
      { label: 'Pending (minutes)', data: [0, 0.5] },
    ])
  })
})
