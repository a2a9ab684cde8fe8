// The JSON the API returns, named for the UI. Every shape comes from schema.d.ts, which is generated
// from the API's OpenAPI document (`make frontend-types`; `make checks` keeps it current): when a shape
// here is too loose, fix the serializer's schema in the API, not the type here.

import type { components } from './schema'

type Schemas = components['schemas']

/** Nanoseconds, as Go's time.Duration serialises. */
export type Nanoseconds = number

export type Pagination = Schemas['Pagination']

/** A page of a list route (`BuildList`, `ReleaseList`, … in the schema): the same envelope for every item type. */
export interface Page<T> {
  items: T[]
  pagination: Pagination
}

export type Label = Schemas['Label']
export type ReleaseAction = Schemas['ReleaseAction']
/** A build's targets (their `activeReleases` always empty) or a pipeline's (with the current release per action). */
export type ReleaseTarget = Schemas['ReleaseTarget'] | Schemas['PipelineReleaseTarget']
export type Commit = Schemas['Commit']
export type CommitAuthor = Schemas['CommitAuthor']

/** One event that fired a run (EstafetteEvent): `name`/`fired` plus one object for its kind. */
export type EstafetteEvent = Schemas['EstafetteEvent']

/** A manifest trigger: one event filter (pipeline, release, git, cron, …) and one action (builds, releases, runs). */
export type Trigger = Schemas['Build']['triggers'][number]

/** A build as a list item. */
export type Build = Schemas['Build']
/** A build as its own route answers it: with the manifest texts. */
export type BuildDetail = Schemas['BuildDetail']
/** A pipeline: its latest build's fields (null while it has none) and the read model. */
export type Pipeline = Schemas['Pipeline']
export type Release = Schemas['Release']
/** A release as a pipeline's release target shows it: with the medians of its target's recent releases. */
export type ActiveRelease = Schemas['ActiveRelease']
export type BotRun = Schemas['BotRun']

/** The kinds of run and the JSON of one in a list; utils/runKinds.ts says the rest about each kind. */
export interface RunTypes {
  build: Build
  release: Release
  bot: BotRun
}
export type RunKind = keyof RunTypes
/** A run as its own route answers it (a build's carries its manifest texts). */
export type RunDetail<K extends RunKind> = K extends 'build' ? BuildDetail : RunTypes[K]

export type LogLine = Schemas['LogLine']
export type StepImage = Schemas['StepImage']
export type StepStatus = Schemas['Step']['status']
/**
 * A step of a log at any depth: a stage, a parallel stage or a service container. The schema has a type
 * for each depth (`Step`, `NestedStep`, `ServiceStep`, the deepest with empty lists); all three are one of these.
 */
export interface LogStep extends Omit<Schemas['ServiceStep'], 'nestedSteps' | 'services'> {
  nestedSteps: LogStep[]
  services: LogStep[]
}

/** A run's log (`Log`). Estafette itself answers a bare step array: then only `steps` is known. */
export type RunLog = Partial<Omit<Schemas['Log'], 'steps'>> & { steps: LogStep[] }

/**
 * One event of the live tail (SSE `log`): a line and/or a status change of one step. Server-Sent Events
 * are not in the OpenAPI document: this mirrors builder.contracts.TailLogLine (docs/CONTRACTS.md §3)
 * with the schema's parts.
 */
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

/** GET /api/me (and the answer of POST /api/auth/login). */
export type User = Schemas['Me']

/** A login provider's button (GET /api/auth/providers). */
export type LoginProvider = Schemas['ProviderItem']

/** A log line the log search found (`GET /api/logs/search`), with the address opening the log there. */
export type LogSearchHit = Schemas['LogSearchHit']
export type LogSearchResult = Schemas['LogSearchResult']

/** The delivery insights (`GET /api/insights/dora`) and the metrics of one group. */
export type DoraReport = Schemas['DoraReport']
export type DoraMetrics = Schemas['DoraMetrics']

/** A right-sizing hint of a pipeline's jobs (`…/stats/hints`). */
export type ResourceHint = Schemas['ResourceHints']['hints'][number]
