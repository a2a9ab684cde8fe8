import {
  computed,
  onScopeDispose,
  toValue,
  watch,
  type ComputedRef,
  type MaybeRefOrGetter,
  type Ref,
  type ShallowRef,
} from 'vue'

import type { ApiError } from '@/api/client'
import {
  cancelRun,
  createRelease,
  getBuild,
  getRelease,
  rebuild,
  type PipelineKey,
  type RunKind,
} from '@/api/estafette'
import type { Build, Release } from '@/api/types'
import { isActiveStatus } from '@/utils/status'

import { useAsync, useMutation, type MutationState } from './useAsync'

export interface RunRef {
  pipeline: PipelineKey
  kind: RunKind
  id: string
}

export interface RunState {
  run: ShallowRef<Build | Release | undefined>
  status: ComputedRef<string>
  active: ComputedRef<boolean>
  loading: Ref<boolean>
  error: ShallowRef<ApiError | null>
  reload: () => Promise<void>
}

export function runStatus(run: Build | Release | undefined): string {
  if (!run) return ''
  return 'buildStatus' in run ? run.buildStatus : run.releaseStatus
}

const POLL_MS = 5000

/** One build or release; while it is pending/running it is re-read every few seconds. */
export function useRun(target: MaybeRefOrGetter<RunRef>, pollMs = POLL_MS): RunState {
  const state = useAsync((signal, current: RunRef): Promise<Build | Release> =>
    current.kind === 'build'
      ? getBuild(current.pipeline, current.id, { signal })
      : getRelease(current.pipeline, current.id, { signal }),
  )
  const reload = async () => {
    await state.run(toValue(target))
  }
  const status = computed(() => runStatus(state.data.value))
  const active = computed(() => isActiveStatus(status.value))

  let timer: ReturnType<typeof setTimeout> | undefined
  const schedule = () => {
    clearTimeout(timer)
    if (active.value) timer = setTimeout(() => void reload().then(schedule), pollMs)
  }
  watch(
    () => JSON.stringify(toValue(target)),
    () => void reload().then(schedule),
    { immediate: true },
  )
  onScopeDispose(() => clearTimeout(timer))

  return { run: state.data, status, active, loading: state.loading, error: state.error, reload }
}

export interface RunCommands {
  cancel: MutationState<[RunRef], unknown>
  rebuild: MutationState<[PipelineKey, string], Build>
  release: MutationState<[PipelineKey, { name: string; action?: string; releaseVersion: string }], Release>
}

/** The commands on runs, each with its own busy/error state. */
export function useRunCommands(): RunCommands {
  return {
    cancel: useMutation((run: RunRef) => cancelRun(run.pipeline, run.kind, run.id)),
    rebuild: useMutation((pipeline: PipelineKey, version: string) => rebuild(pipeline, version)),
    release: useMutation((pipeline: PipelineKey, release: { name: string; action?: string; releaseVersion: string }) =>
      createRelease(pipeline, release),
    ),
  }
}
