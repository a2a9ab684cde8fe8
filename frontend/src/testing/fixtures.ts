// Small makers of API objects; each test states only what matters to it.

import type { ActiveRelease, BotRun, Build, BuildDetail, LogLine, LogStep, Pipeline, Release } from '@/api/types'

export const pipelineKey = { source: 'github.com', owner: 'estafette', name: 'estafette-ci-api' }

/** A build as a list item: without the manifest texts. */
function buildFields(): Build {
  return {
    id: '101',
    repoSource: pipelineKey.source,
    repoOwner: pipelineKey.owner,
    repoName: pipelineKey.name,
    groups: [],
    organizations: [],
    repoBranch: 'main',
    repoRevision: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    buildVersion: '1.0.101',
    buildStatus: 'succeeded',
    labels: [{ key: 'team', value: 'ci' }],
    releaseTargets: [
      { name: 'staging', actions: [], activeReleases: [] },
      {
        name: 'production',
        actions: [
          { name: 'deploy-canary', hideBadge: false },
          { name: 'deploy-stable', hideBadge: false },
          { name: 'rollback-canary', hideBadge: true },
        ],
        activeReleases: [],
      },
    ],
    commits: [{ message: 'Add the live tail', author: { name: 'Ada', email: 'ada@example.com', username: 'ada' } }],
    triggers: [],
    manifestValid: true,
    triggerEvents: [],
    insertedAt: '2026-11-26T10:00:00Z',
    startedAt: '2026-11-26T10:00:05Z',
    updatedAt: '2026-11-26T10:02:05Z',
    duration: 120_000_000_000,
  }
}

/** A build as its own route answers it (lists answer the same without the manifest texts). */
export function makeBuild(overrides: Partial<BuildDetail> = {}): BuildDetail {
  return { ...buildFields(), manifest: '', manifestWithDefaults: '', ...overrides }
}

export function makePipeline(overrides: Partial<Pipeline> = {}): Pipeline {
  // A pipeline carries its latest build's fields and the read model.
  return {
    ...buildFields(),
    archived: false,
    lastUpdatedAt: '2026-11-26T10:02:05Z',
    recentCommitters: [],
    recentReleasers: [],
    extraInfo: {},
    ...overrides,
  }
}

export function makeRelease(overrides: Partial<Release> = {}): Release {
  return {
    id: '7',
    name: 'staging',
    action: '',
    repoSource: pipelineKey.source,
    repoOwner: pipelineKey.owner,
    repoName: pipelineKey.name,
    groups: [],
    organizations: [],
    releaseVersion: '1.0.101',
    releaseStatus: 'succeeded',
    triggerEvents: [],
    insertedAt: '2026-11-26T10:05:00Z',
    updatedAt: '2026-11-26T10:05:00Z',
    ...overrides,
  }
}

export function makeActiveRelease(overrides: Partial<ActiveRelease> = {}): ActiveRelease {
  return { ...makeRelease(), extraInfo: { medianPendingDuration: 0, medianDuration: 0 }, ...overrides }
}

export function makeBotRun(overrides: Partial<BotRun> = {}): BotRun {
  return {
    id: '12',
    name: 'stale-issues',
    repoSource: pipelineKey.source,
    repoOwner: pipelineKey.owner,
    repoName: pipelineKey.name,
    groups: [],
    organizations: [],
    botStatus: 'succeeded',
    triggerEvents: [],
    insertedAt: '2026-11-26T11:00:00Z',
    updatedAt: '2026-11-26T11:00:30Z',
    ...overrides,
  }
}

export function logLine(line: number, text: string): LogLine {
  return { line, timestamp: '2026-11-26T10:00:00Z', streamType: 'stdout', text }
}

export function lines(count: number, text: (n: number) => string = (n) => `line ${n}`): LogLine[] {
  return Array.from({ length: count }, (_, index) => logLine(index + 1, text(index + 1)))
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
