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
import { cancelRun, createRelease, getRun, rebuild, type PipelineKey } from '@/api/estafette'
import type { BuildDetail, Release, RunDetail, RunKind } from '@/api/types'
import { runKind } from '@/utils/runKinds'
import { isActiveStatus } from '@/utils/status'

import { useAsync, useMutation, type MutationState } from './useAsync'

export interface RunRef {
  pipeline: PipelineKey
  kind: RunKind
  id: string
}

export interface RunState {
  run: ShallowRef<RunDetail<RunKind> | undefined>
  status: ComputedRef<string>
  active: ComputedRef<boolean>
  loading: Ref<boolean>
  error: ShallowRef<ApiError | null>
  reload: () => Promise<void>
}

const POLL_MS = 5000

/** One run; while it is pending/running it is re-read every few seconds. */
export function useRun(target: MaybeRefOrGetter<RunRef>, pollMs = POLL_MS): RunState {
  const state = useAsync((signal, current: RunRef): Promise<RunDetail<RunKind>> =>
    getRun(current.pipeline, current.kind, current.id, { signal }),
  )
  const reload = async () => {
    await state.run(toValue(target))
  }
  const status = computed(() => (state.data.value ? runKind(toValue(target).kind).status(state.data.value) : ''))
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
  rebuild: MutationState<[PipelineKey, string], BuildDetail>
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
