// Typed calls to the Estafette API routes (docs/CONTRACTS.md §3). Nothing here keeps state.

import { runKind } from '@/utils/runKinds'

import { api, ApiError, isApiError, type Query } from './client'
import type {
  BuildDetail,
  DoraReport,
  LogSearchResult,
  LogStep,
  Page,
  Pipeline,
  Release,
  ResourceHint,
  RunDetail,
  RunKind,
  RunLog,
  RunTypes,
  User,
} from './types'

// A type alias (not an interface) so it can be spread into vue-router params.
export type PipelineKey = {
  source: string
  owner: string
  name: string
}

/** The filters every list page understands; `page` counts from 1. */
export interface ListFilter {
  status?: string
  since?: string
  labels?: string[]
  search?: string
  branch?: string
  target?: string
  page?: number
  size?: number
}

/** The filters a list page can offer (the others say which page). */
export type FilterField = Exclude<keyof ListFilter, 'page' | 'size'>

export const DEFAULT_PAGE_SIZE = 20

export function toApiQuery(filter: ListFilter): Query {
  return {
    'filter[status]': filter.status,
    'filter[since]': filter.since,
    'filter[labels]': filter.labels && filter.labels.length > 0 ? filter.labels : undefined,
    'filter[search]': filter.search,
    'filter[branch]': filter.branch,
    'filter[target]': filter.target,
    'page[number]': filter.page,
    'page[size]': filter.size ?? DEFAULT_PAGE_SIZE,
  }
}

export function pipelineKeyOf(run: { repoSource: string; repoOwner: string; repoName: string }): PipelineKey {
  return { source: run.repoSource, owner: run.repoOwner, name: run.repoName }
}

export function pipelinePath(key: PipelineKey): string {
  return `/pipelines/${encodeURIComponent(key.source)}/${encodeURIComponent(key.owner)}/${encodeURIComponent(key.name)}`
}

function runPath(key: PipelineKey, kind: RunKind, id: string): string {
  return `${pipelinePath(key)}/${runKind(kind).segment}/${encodeURIComponent(id)}`
}

interface Options {
  signal?: AbortSignal
}

export const listPipelines = (filter: ListFilter, options: Options = {}) =>
  api.get<Page<Pipeline>>('/pipelines', { query: toApiQuery(filter), ...options })

export const getPipeline = (key: PipelineKey, options: Options = {}) => api.get<Pipeline>(pipelinePath(key), options)

/** Runs of one kind: of one pipeline, or of all pipelines when `key` is null. */
export function listRuns<K extends RunKind>(
  kind: K,
  key: PipelineKey | null,
  filter: ListFilter,
  options: Options = {},
): Promise<Page<RunTypes[K]>> {
  const segment = runKind(kind).segment
  const path = key ? `${pipelinePath(key)}/${segment}` : `/${segment}`
  return api.get<Page<RunTypes[K]>>(path, { query: toApiQuery(filter), ...options })
}

export const getRun = <K extends RunKind>(key: PipelineKey, kind: K, id: string, options: Options = {}) =>
  api.get<RunDetail<K>>(runPath(key, kind, id), options)

/**
 * The succeeded build of a version (what a release of that version runs). Estafette's route
 * `…/builds/version/{version}` first; an API without it is searched through its latest 100
 * succeeded builds. Rejects with a 404 ApiError when neither has it.
 */
export async function getBuildByVersion(
  key: PipelineKey,
  version: string,
  options: Options = {},
): Promise<BuildDetail> {
  try {
    return await api.get<BuildDetail>(`${pipelinePath(key)}/builds/version/${encodeURIComponent(version)}`, options)
  } catch (error) {
    if (!isApiError(error) || error.status !== 404) throw error
  }
  const page = await listRuns('build', key, { status: 'succeeded', size: 100 }, options)
  const found = page.items.find((build) => build.buildVersion === version)
  if (!found) throw new ApiError(404, 'Not Found', `No succeeded build of version ${version} was found.`)
  return getRun(key, 'build', found.id, options)
}

/** Cancels a pending or running run (DELETE, as Estafette). */
export const cancelRun = (key: PipelineKey, kind: RunKind, id: string) => api.delete<unknown>(runPath(key, kind, id))

/** Re-runs a failed or canceled version: a new build with the same version. */
export const rebuild = (key: PipelineKey, buildVersion: string) =>
  api.post<BuildDetail>(`${pipelinePath(key)}/builds`, {
    repoSource: key.source,
    repoOwner: key.owner,
    repoName: key.name,
    buildVersion,
  })

export const createRelease = (key: PipelineKey, release: { name: string; action?: string; releaseVersion: string }) =>
  api.post<Release>(`${pipelinePath(key)}/releases`, {
    name: release.name,
    action: release.action ?? '',
    repoSource: key.source,
    repoOwner: key.owner,
    repoName: key.name,
    releaseVersion: release.releaseVersion,
  })

/** The latest log record of a run. Estafette itself answers a bare step array; both are accepted. */
export async function getRunLog(key: PipelineKey, kind: RunKind, id: string, options: Options = {}): Promise<RunLog> {
  const body = await api.get<RunLog | LogStep[] | undefined>(`${runPath(key, kind, id)}/logs`, options)
  if (Array.isArray(body)) return { steps: body }
  return { ...body, steps: body?.steps ?? [] }
}

export const runLogStreamPath = (key: PipelineKey, kind: RunKind, id: string) => `${runPath(key, kind, id)}/logs.stream`

/** Log lines of every run matching `q` (words, "phrases", pipeline:/branch:/status:/since:), newest first. */
export const searchLogs = (q: string, page: number, options: Options = {}) =>
  api.get<LogSearchResult>('/logs/search', { query: { q, 'page[number]': page, 'page[size]': 50 }, ...options })

/** What the delivery insights are computed over (`GET /api/insights/dora`). */
export interface DoraFilter {
  since?: string
  labels?: string[]
  pipeline?: string
}

export const getDora = (filter: DoraFilter, options: Options = {}) =>
  api.get<DoraReport>('/insights/dora', {
    query: {
      'filter[since]': filter.since,
      'filter[labels]': filter.labels && filter.labels.length > 0 ? filter.labels : undefined,
      'filter[pipeline]': filter.pipeline,
    },
    ...options,
  })

/** Where a pipeline's jobs request far more or less CPU and memory than they use. */
export const getResourceHints = (key: PipelineKey, options: Options = {}) =>
  api.get<{ hints: ResourceHint[] }>(`${pipelinePath(key)}/stats/hints`, options)

export const getMe = () => api.get<User>('/me', { expectUnauthorized: true })

export const login = (username: string, password: string) =>
  api.post<User | undefined>('/auth/login', { username, password }, { expectUnauthorized: true })

export const logout = () => api.post<unknown>('/auth/logout', undefined, { expectUnauthorized: true })
