// Small makers of API objects; each test states only what matters to it.

import type { Build, LogLine, LogStep, Pipeline, Release } from '@/api/types'

export const pipelineKey = { source: 'github.com', owner: 'estafette', name: 'estafette-ci-api' }

export function makeBuild(overrides: Partial<Build> = {}): Build {
  return {
    id: '101',
    repoSource: pipelineKey.source,
    repoOwner: pipelineKey.owner,
    repoName: pipelineKey.name,
    repoBranch: 'main',
    repoRevision: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    buildVersion: '1.0.101',
    buildStatus: 'succeeded',
    labels: [{ key: 'team', value: 'ci' }],
    releaseTargets: [
      { name: 'staging', actions: [], activeReleases: [] },
      {
        name: 'production',
        actions: [{ name: 'deploy-canary' }, { name: 'deploy-stable' }, { name: 'rollback-canary', hideBadge: true }],
        activeReleases: [],
      },
    ],
    commits: [{ message: 'Add the live tail', author: { name: 'Ada', email: 'ada@example.com' } }],
    insertedAt: '2026-11-26T10:00:00Z',
    startedAt: '2026-11-26T10:00:05Z',
    updatedAt: '2026-11-26T10:02:05Z',
    duration: 120_000_000_000,
    ...overrides,
  }
}

export function makePipeline(overrides: Partial<Pipeline> = {}): Pipeline {
  return { ...makeBuild(), lastUpdatedAt: '2026-11-26T10:02:05Z', ...overrides }
}

export function makeRelease(overrides: Partial<Release> = {}): Release {
  return {
    id: '7',
    name: 'staging',
    action: '',
    repoSource: pipelineKey.source,
    repoOwner: pipelineKey.owner,
    repoName: pipelineKey.name,
    releaseVersion: '1.0.101',
    releaseStatus: 'succeeded',
    insertedAt: '2026-11-26T10:05:00Z',
    ...overrides,
  }
}

export function lines(count: number, text: (n: number) => string = (n) => `line ${n}`): LogLine[] {
  return Array.from({ length: count }, (_, index) => ({
    line: index + 1,
    timestamp: '2026-11-26T10:00:00Z',
    streamType: 'stdout' as const,
    text: text(index + 1),
  }))
}

export function makeStep(overrides: Partial<LogStep> = {}): LogStep {
  return {
    step: 'build',
    depth: 0,
    runIndex: 0,
    image: { name: 'golang', tag: '1.22' },
    status: 'SUCCEEDED',
    duration: 3_000_000_000,
    exitCode: 0,
    autoInjected: false,
    logLines: lines(3),
    nestedSteps: [],
    services: [],
    ...overrides,
  }
}
