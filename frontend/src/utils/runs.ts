import type { Build, Release, ReleaseTarget } from '@/api/types'

export interface BranchBuilds {
  branch: string
  builds: Build[]
}

/**
 * Groups builds (newest first) by branch, branches ordered by their newest build: the overview's
 * "recent builds per branch", as Estafette derives it from the last 50 builds.
 */
export function recentBuildsPerBranch(builds: readonly Build[], maxBranches = 5, perBranch = 3): BranchBuilds[] {
  const groups = new Map<string, Build[]>()
  for (const build of builds) {
    const group = groups.get(build.repoBranch)
    if (group) {
      if (group.length < perBranch) group.push(build)
    } else if (groups.size < maxBranches) {
      groups.set(build.repoBranch, [build])
    }
  }
  return [...groups].map(([branch, list]) => ({ branch, builds: list }))
}

export interface ReleaseSlot {
  target: string
  /** '' for a target without actions. */
  action: string
  hideBadge: boolean
  /** The latest release to this target with this action, if any. */
  release?: Release
}

/** One row per target and action (or per target when it has none), with its current release. */
export function releaseSlots(targets: readonly ReleaseTarget[] | null | undefined): ReleaseSlot[] {
  const slots: ReleaseSlot[] = []
  for (const target of targets ?? []) {
    const active = target.activeReleases ?? []
    const actions = target.actions && target.actions.length > 0 ? target.actions : [{ name: '', hideBadge: false }]
    for (const action of actions) {
      const release = active.find((candidate) => (candidate.action ?? '') === action.name)
      slots.push({ target: target.name, action: action.name, hideBadge: action.hideBadge ?? false, release })
    }
  }
  return slots
}
