// The JSON the API returns (docs/CONTRACTS.md §3, Estafette's camelCase field names).
// Fields the API omits while unknown are optional here.

export type RunStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'canceling' | 'canceled' | ''

export type StepStatus = 'UNKNOWN' | 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'CANCELED'

/** Nanoseconds, as Go's time.Duration serialises. */
export type Nanoseconds = number

export interface Pagination {
  page: number
  size: number
  totalPages: number
  totalItems: number
}

export interface Page<T> {
  items: T[]
  pagination: Pagination
}

export interface Label {
  key: string
  value: string
}

export interface ReleaseAction {
  name: string
  hideBadge?: boolean
}

export interface ReleaseTarget {
  name: string
  actions?: ReleaseAction[] | null
  activeReleases?: Release[] | null
}

export interface CommitAuthor {
  email?: string
  name?: string
  username?: string
}

export interface Commit {
  message: string
  author?: CommitAuthor
}

/** One event that fired a run (EstafetteEvent): `name`/`fired` plus one object per event kind. */
export interface EstafetteEvent {
  name?: string
  fired?: boolean
  [kind: string]: unknown
}

/** A manifest trigger: one event filter (pipeline, release, git, cron, …) and one action (builds, releases, runs). */
export interface Trigger {
  name?: string
  [part: string]: unknown
}

export interface Build {
  id: string
  repoSource: string
  repoOwner: string
  repoName: string
  repoBranch: string
  repoRevision: string
  buildVersion: string
  buildStatus: RunStatus
  labels?: Label[] | null
  releaseTargets?: ReleaseTarget[] | null
  manifest?: string
  manifestWithDefaults?: string
  commits?: Commit[] | null
  triggers?: Trigger[] | null
  triggeredByEvents?: EstafetteEvent[] | null
  insertedAt: string
  startedAt?: string | null
  updatedAt?: string | null
  duration?: Nanoseconds
  pendingDuration?: Nanoseconds
}

export interface Pipeline extends Build {
  archived?: boolean
  lastUpdatedAt?: string
  recentCommitters?: string[] | null
  recentReleasers?: string[] | null
  extraInfo?: { medianDuration?: Nanoseconds; medianPendingDuration?: Nanoseconds } | null
}

export interface Release {
  id: string
  name: string
  action?: string
  repoSource: string
  repoOwner: string
  repoName: string
  releaseVersion: string
  releaseStatus: RunStatus
  triggeredByEvents?: EstafetteEvent[] | null
  insertedAt: string
  startedAt?: string | null
  updatedAt?: string | null
  duration?: Nanoseconds
}

export interface LogLine {
  line: number
  timestamp?: string
  streamType?: 'stdout' | 'stderr'
  text: string
}

export interface StepImage {
  name?: string
  tag?: string
  isPulled?: boolean
  imageSize?: number
  pullDuration?: Nanoseconds
  error?: string
  isTrusted?: boolean
  hasInjectedCredentials?: boolean
}

export interface LogStep {
  step: string
  depth?: number
  runIndex?: number
  image?: StepImage | null
  duration?: Nanoseconds
  exitCode?: number
  status?: StepStatus
  autoInjected?: boolean
  logLines?: LogLine[] | null
  nestedSteps?: LogStep[] | null
  services?: LogStep[] | null
}

export interface LogRecord {
  id?: string
  insertedAt?: string
  steps: LogStep[]
}

/** One event of the live tail (SSE `log`): a line and/or a status change of one step. */
export interface TailLogLine {
  step: string
  parentStage?: string
  type?: 'stage' | 'service'
  depth?: number
  runIndex?: number
  logLine?: LogLine
  image?: StepImage
  duration?: Nanoseconds
  exitCode?: number
  status?: StepStatus
  autoInjected?: boolean
}

/** GET /api/me. The API may send more; the UI only needs something to show and the admin flag. */
export interface User {
  id?: string | number
  username?: string
  email?: string
  name?: string
  isStaff?: boolean
  is_staff?: boolean
}
