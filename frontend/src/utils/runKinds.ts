// The kinds of run (build, release, bot), each described once: where the API and the UI keep it, how
// its JSON names status and version, and how the UI words it. The routes, the navigation, the lists,
// the tables and the run detail page all ask this registry; none of them branches on a kind's name.
// A new kind is one entry here (and its type in api/types.ts RunTypes).

import type { BotRun, Build, Commit, Release, RunKind, RunTypes } from '@/api/types'

import type { FilterField } from '@/api/estafette'

export type { RunKind }

/** Any run as a list answers it. */
export type Run = RunTypes[RunKind]

/** What a run of this kind is a run of: a target and action (a release), or a bot. */
export interface RunSubject {
  name: string
  action?: string
}

/** The commit a run is of (builds). */
export interface RunRevision {
  branch: string
  revision: string
  commit?: Commit
}

/**
 * One kind of run. The functions are declared as methods on purpose: TypeScript checks method
 * parameters bivariantly, so a `RunKindSpec<Build>` may stand in the registry of `RunKindSpec<Run>`.
 * Each is only ever called with a run of its own kind (the route it came from says which).
 */
export interface RunKindSpec<R extends Run = Run> {
  kind: RunKind
  /** The path segment of its runs, in the API (`/api/…/builds/1`) and in the UI (`/pipelines/…/builds/1`). */
  segment: string
  /** Lower-case, for sentences: "No build matches these filters." */
  noun: string
  /** For headings, tabs and the navigation: "Builds". */
  plural: string
  /** The heading of the column that names a run and links to it. */
  nameColumn: string
  status(run: R): string
  /** The version it built or released; '' for a kind without versions (bots). */
  version(run: R): string
  /** What names one run in a list: its version, or a bot's name. */
  label(run: R): string
  /** The run detail page's heading: "Release 1.0.3 to production (deploy)". */
  title(run: R): string
  /** The run in a command's label: "Cancel <build 1.0.3>". */
  subject(run: R): string
  /** Releases: the target (and action) it released to. */
  target?(run: R): RunSubject
  /** Builds: the branch and commit it built. */
  revision?(run: R): RunRevision
  /** A failed or canceled run of this kind can be run again with the same version (builds). */
  rebuilds: boolean
  /** Why this failed run cannot be run again all the same (the API would answer 409), or null. */
  rebuildBlocked?(run: R): string | null
  /** A succeeded run of this kind can be released to a target (builds). */
  releasable: boolean
  /** Where its manifest comes from: its own (builds), the build of its version (releases), or none shown. */
  manifest: 'own' | 'build-of-version' | 'none'
  /** The filters of its list across all pipelines and of a pipeline's tab. */
  filters: { all: FilterField[]; pipeline: FilterField[] }
}

const build: RunKindSpec<Build> = {
  kind: 'build',
  segment: 'builds',
  noun: 'build',
  plural: 'Builds',
  nameColumn: 'Version',
  status: (run) => run.buildStatus,
  version: (run) => run.buildVersion,
  label: (run) => run.buildVersion || run.id,
  title: (run) => `Build ${run.buildVersion}`,
  subject: (run) => `build ${run.buildVersion}`,
  revision: (run) => ({ branch: run.repoBranch, revision: run.repoRevision, commit: run.commits?.[0] }),
  rebuilds: true,
  // The API refuses a version built from an invalid manifest (it would fail the same way); the build says so.
  rebuildBlocked: (run) =>
    run.manifestValid === false
      ? 'This version was built from an invalid manifest and cannot be rebuilt: fix .estafette.yaml and push a new commit.'
      : null,
  releasable: true,
  manifest: 'own',
  filters: { all: ['status', 'since', 'labels', 'search'], pipeline: ['status', 'since', 'branch'] },
}

const release: RunKindSpec<Release> = {
  kind: 'release',
  segment: 'releases',
  noun: 'release',
  plural: 'Releases',
  nameColumn: 'Version',
  status: (run) => run.releaseStatus,
  version: (run) => run.releaseVersion,
  label: (run) => run.releaseVersion,
  title: (run) => `Release ${run.releaseVersion} to ${run.name}${run.action ? ` (${run.action})` : ''}`,
  subject: (run) => `release to ${run.name} ${run.releaseVersion}`,
  target: (run) => ({ name: run.name, action: run.action }),
  rebuilds: false,
  releasable: false,
  manifest: 'build-of-version',
  filters: { all: ['status', 'since', 'target', 'search'], pipeline: ['status', 'since', 'target'] },
}

const bot: RunKindSpec<BotRun> = {
  kind: 'bot',
  segment: 'bots',
  noun: 'bot run',
  plural: 'Bots',
  nameColumn: 'Bot',
  status: (run) => run.botStatus,
  version: () => '',
  label: (run) => run.name,
  title: (run) => `Bot ${run.name}`,
  subject: (run) => `bot ${run.name}`,
  rebuilds: false,
  releasable: false,
  manifest: 'none',
  filters: { all: ['status', 'since', 'labels', 'search'], pipeline: ['status', 'since'] },
}

const RUN_KINDS: { readonly [K in RunKind]: RunKindSpec<RunTypes[K]> } = { build, release, bot }

/** Every kind, in the order the navigation shows them. */
export const RUN_KIND_LIST: readonly RunKindSpec[] = Object.values(RUN_KINDS)

export function runKind(kind: RunKind): RunKindSpec {
  return RUN_KINDS[kind]
}

/** The name of the route of one run's page (`build`, `release`, `bot`). */
export function runRouteName(kind: RunKind): string {
  return kind
}

/** The name of the route of a list of runs: across all pipelines (`builds`) or a pipeline's tab (`pipeline-builds`). */
export function runListRouteName(kind: RunKind, inPipeline: boolean): string {
  return inPipeline ? `pipeline-${runKind(kind).segment}` : runKind(kind).segment
}

/** The kind of run a route serves: its `meta.runKind` (router/index.ts sets it on every run route). */
export function routeRunKind(meta: { runKind?: RunKind }): RunKind {
  if (!meta.runKind) throw new Error('this route serves no kind of run (meta.runKind is missing)')
  return meta.runKind
}
