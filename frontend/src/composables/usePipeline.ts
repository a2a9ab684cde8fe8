import {
  computed,
  inject,
  provide,
  toValue,
  watch,
  type ComputedRef,
  type InjectionKey,
  type MaybeRefOrGetter,
  type Ref,
  type ShallowRef,
} from 'vue'
import { useRoute } from 'vue-router'

import type { ApiError } from '@/api/client'
import { getPipeline, listRuns, type PipelineKey } from '@/api/estafette'
import type { Pipeline } from '@/api/types'
import { recentBuildsPerBranch, type BranchBuilds } from '@/utils/runs'

import { useAsync } from './useAsync'

export interface PipelineState {
  pipeline: ShallowRef<Pipeline | undefined>
  loading: Ref<boolean>
  error: ShallowRef<ApiError | null>
  reload: () => Promise<void>
}

export function usePipeline(key: MaybeRefOrGetter<PipelineKey>): PipelineState {
  const state = useAsync((signal, current: PipelineKey) => getPipeline(current, { signal }))
  const reload = async () => {
    await state.run(toValue(key))
  }
  watch(() => JSON.stringify(toValue(key)), reload, { immediate: true })
  return { pipeline: state.data, loading: state.loading, error: state.error, reload }
}

export interface RecentBuildsState {
  branches: ComputedRef<BranchBuilds[]>
  loading: Ref<boolean>
  error: ShallowRef<ApiError | null>
  reload: () => Promise<void>
}

/** The latest builds of each recently built branch (from the last 50 builds). */
export function useRecentBuilds(key: MaybeRefOrGetter<PipelineKey>): RecentBuildsState {
  const state = useAsync((signal, current: PipelineKey) => listRuns('build', current, { size: 50 }, { signal }))
  const reload = async () => {
    await state.run(toValue(key))
  }
  watch(() => JSON.stringify(toValue(key)), reload, { immediate: true })
  return {
    branches: computed(() => recentBuildsPerBranch(state.data.value?.items ?? [])),
    loading: state.loading,
    error: state.error,
    reload,
  }
}

/** The pipeline of the current route (/pipelines/:source/:owner/:name/…). */
export function usePipelineKey(): ComputedRef<PipelineKey> {
  const route = useRoute()
  return computed(() => ({
    source: String(route.params.source ?? ''),
    owner: String(route.params.owner ?? ''),
    name: String(route.params.name ?? ''),
  }))
}

export interface PipelineContext extends PipelineState {
  key: ComputedRef<PipelineKey>
}

const pipelineContextKey: InjectionKey<PipelineContext> = Symbol('pipeline')

/** PipelineView loads the pipeline once and shares it with its tabs. */
export function providePipelineContext(context: PipelineContext): void {
  provide(pipelineContextKey, context)
}

/** The pipeline context when the component sits under PipelineView, else undefined. */
export function useOptionalPipelineContext(): PipelineContext | undefined {
  return inject(pipelineContextKey, undefined)
}

export function usePipelineContext(): PipelineContext {
  const context = inject(pipelineContextKey)
  if (!context) throw new Error('usePipelineContext() needs PipelineView above it')
  return context
}
