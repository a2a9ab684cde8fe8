import { onScopeDispose, ref, shallowRef, type Ref, type ShallowRef } from 'vue'

import { toApiError, type ApiError } from '@/api/client'

export interface AsyncState<T, A extends unknown[]> {
  data: ShallowRef<T | undefined>
  error: ShallowRef<ApiError | null>
  loading: Ref<boolean>
  /** Starts a load; an older load still running is aborted and its answer ignored. */
  run: (...args: A) => Promise<T | undefined>
}

/** Loading/error/data for one kind of read. Only the latest call's answer counts. */
export function useAsync<T, A extends unknown[] = []>(
  load: (signal: AbortSignal, ...args: A) => Promise<T>,
): AsyncState<T, A> {
  const data = shallowRef<T>()
  const error = shallowRef<ApiError | null>(null)
  const loading = ref(false)
  let current: AbortController | null = null

  async function run(...args: A): Promise<T | undefined> {
    current?.abort()
    const mine = new AbortController()
    current = mine
    loading.value = true
    error.value = null
    try {
      const result = await load(mine.signal, ...args)
      if (current === mine) data.value = result
      return result
    } catch (caught) {
      if (!mine.signal.aborted) error.value = toApiError(caught)
      return undefined
    } finally {
      if (current === mine) loading.value = false
    }
  }

  onScopeDispose(() => current?.abort())
  return { data, error, loading, run }
}

export interface MutationState<A extends unknown[], T> {
  busy: Ref<boolean>
  error: ShallowRef<ApiError | null>
  /** Resolves to the answer, or undefined when it failed (then `error` says why). */
  run: (...args: A) => Promise<T | undefined>
}

/** Busy/error for a command (cancel, rebuild, release). One at a time: a second call while busy is ignored. */
export function useMutation<A extends unknown[], T>(command: (...args: A) => Promise<T>): MutationState<A, T> {
  const busy = ref(false)
  const error = shallowRef<ApiError | null>(null)

  async function run(...args: A): Promise<T | undefined> {
    if (busy.value) return undefined
    busy.value = true
    error.value = null
    try {
      return await command(...args)
    } catch (caught) {
      error.value = toApiError(caught)
      return undefined
    } finally {
      busy.value = false
    }
  }

  return { busy, error, run }
}
