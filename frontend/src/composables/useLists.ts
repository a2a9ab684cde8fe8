import { computed, toValue, watch, type ComputedRef, type MaybeRefOrGetter, type Ref, type ShallowRef } from 'vue'

import type { ApiError } from '@/api/client'
import { listPipelines, listRuns, type ListFilter, type PipelineKey } from '@/api/estafette'
import type { Page, Pagination, Pipeline, RunKind, RunTypes } from '@/api/types'

import { useAsync } from './useAsync'

export interface ListState<T> {
  items: ComputedRef<T[]>
  pagination: ComputedRef<Pagination | undefined>
  loading: Ref<boolean>
  error: ShallowRef<ApiError | null>
  reload: () => Promise<void>
}

/** A paged list that reloads whenever its source (filter, scope) changes. */
export function useList<T, S>(
  fetchPage: (source: S, signal: AbortSignal) => Promise<Page<T>>,
  source: MaybeRefOrGetter<S>,
): ListState<T> {
  const state = useAsync((signal, current: S) => fetchPage(current, signal))
  const reload = async () => {
    await state.run(toValue(source))
  }
  // Compared by value: a new but equal filter object (route query re-read) is no reason to reload.
  watch(() => JSON.stringify(toValue(source)), reload, { immediate: true })
  return {
    items: computed(() => state.data.value?.items ?? []),
    pagination: computed(() => state.data.value?.pagination),
    loading: state.loading,
    error: state.error,
    reload,
  }
}

export function usePipelines(filter: MaybeRefOrGetter<ListFilter>): ListState<Pipeline> {
  return useList((current, signal) => listPipelines(current, { signal }), filter)
}

/** Runs of one kind: of one pipeline, or of all pipelines when `pipeline` is null. */
export function useRuns<K extends RunKind>(
  kind: K,
  pipeline: MaybeRefOrGetter<PipelineKey | null>,
  filter: MaybeRefOrGetter<ListFilter>,
): ListState<RunTypes[K]> {
  return useList(
    ({ key, current }, signal) => listRuns(kind, key, current, { signal }),
    () => ({ key: toValue(pipeline), current: toValue(filter) }),
  )
}
