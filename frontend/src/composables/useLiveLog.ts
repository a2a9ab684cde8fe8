import {
  markRaw,
  onScopeDispose,
  ref,
  shallowRef,
  toValue,
  watch,
  type MaybeRefOrGetter,
  type Ref,
  type ShallowRef,
} from 'vue'

import { openEventStream, toApiError, type ApiError } from '@/api/client'
import { getRunLog, runLogStreamPath } from '@/api/estafette'
import type { TailLogLine } from '@/api/types'
import { LogTree } from '@/utils/logTree'

import type { RunRef } from './useRun'

export interface LiveLogOptions {
  /** Live lines are merged in batches this often, so a burst of lines costs one re-render. */
  flushMs?: number
  /** First reconnect delay after the stream broke or closed early; doubles up to maxReconnectMs. */
  reconnectMs?: number
  maxReconnectMs?: number
  /** Called after the server closed the stream and the stored log was re-read (the run has ended). */
  onClosed?: () => void
}

export interface LiveLogState {
  /** Not reactive inside: watch `revision`, which changes whenever the tree did. */
  tree: ShallowRef<LogTree>
  revision: Ref<number>
  loading: Ref<boolean>
  error: ShallowRef<ApiError | null>
  /** The SSE stream is open. */
  streaming: Ref<boolean>
  reload: () => Promise<void>
}

/**
 * The log of a run: the stored log, plus — while `live` is true — the live tail over Server-Sent
 * Events (`log` events carry a TailLogLine, `ping` keeps the connection, `close` ends it). A broken
 * stream is reopened with backoff; lines replayed after a reconnect are not doubled (LogTree skips
 * them). When the server closes the stream the stored log is read again, as Estafette's UI does.
 */
export function useLiveLog(
  target: MaybeRefOrGetter<RunRef>,
  live: MaybeRefOrGetter<boolean>,
  options: LiveLogOptions = {},
): LiveLogState {
  const flushMs = options.flushMs ?? 50
  const reconnectMs = options.reconnectMs ?? 1000
  const maxReconnectMs = options.maxReconnectMs ?? 30000

  const tree = shallowRef(markRaw(new LogTree()))
  const revision = ref(0)
  const loading = ref(false)
  const error = shallowRef<ApiError | null>(null)
  const streaming = ref(false)

  let source: EventSource | null = null
  let pending: TailLogLine[] = []
  // Tail events seen while the stored log is being read: re-applied on top of the fresh copy,
  // because the stored snapshot may have been taken before they arrived.
  let seenDuringLoad: TailLogLine[] | null = null
  let flushTimer: ReturnType<typeof setTimeout> | undefined
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined
  let attempts = 0
  let loadSequence = 0

  function flush(): void {
    clearTimeout(flushTimer)
    flushTimer = undefined
    if (pending.length === 0) return
    const batch = pending
    pending = []
    for (const line of batch) {
      tree.value.applyTail(line)
      seenDuringLoad?.push(line)
    }
    revision.value += 1
  }

  function scheduleFlush(): void {
    if (flushTimer === undefined) flushTimer = setTimeout(flush, flushMs)
  }

  async function reload(): Promise<void> {
    const mine = ++loadSequence
    const current = toValue(target)
    loading.value = true
    seenDuringLoad = []
    try {
      const record = await getRunLog(current.pipeline, current.kind, current.id)
      if (mine !== loadSequence) return
      flush()
      const fresh = markRaw(LogTree.fromSteps(record.steps))
      for (const line of seenDuringLoad ?? []) fresh.applyTail(line)
      tree.value = fresh
      error.value = null
      revision.value += 1
    } catch (caught) {
      if (mine !== loadSequence) return
      const failure = toApiError(caught)
      if (failure.status === 404) {
        // No log stored yet (a pending run): an empty tree, filled by the live tail if any.
        const empty = markRaw(new LogTree())
        for (const line of seenDuringLoad ?? []) empty.applyTail(line)
        tree.value = empty
        error.value = null
        revision.value += 1
      } else {
        error.value = failure
      }
    } finally {
      if (mine === loadSequence) {
        loading.value = false
        seenDuringLoad = null
      }
    }
  }

  function disconnect(): void {
    source?.close()
    source = null
    streaming.value = false
  }

  function stopReconnecting(): void {
    clearTimeout(reconnectTimer)
    reconnectTimer = undefined
  }

  function scheduleReconnect(): void {
    stopReconnecting()
    const base = Math.min(reconnectMs * 2 ** attempts, maxReconnectMs)
    attempts += 1
    // Jitter spreads the reconnects of many open pages after a server restart.
    const delay = base * (0.75 + Math.random() * 0.5)
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      if (toValue(live)) connect()
    }, delay)
  }

  function connect(): void {
    if (source) return
    const current = toValue(target)
    const stream = openEventStream(runLogStreamPath(current.pipeline, current.kind, current.id))
    source = stream
    stream.addEventListener('open', () => {
      streaming.value = true
      attempts = 0
    })
    stream.addEventListener('log', (event) => {
      try {
        pending.push(JSON.parse((event as MessageEvent<string>).data) as TailLogLine)
        scheduleFlush()
      } catch {
        // A malformed event is skipped; the stored log is read again when the stream closes.
      }
    })
    stream.addEventListener('close', () => {
      flush()
      disconnect()
      void reload().then(() => {
        options.onClosed?.()
        // Still live (the stream closed before the job's pod was up): look again later.
        if (toValue(live)) scheduleReconnect()
      })
    })
    stream.addEventListener('error', () => {
      streaming.value = false
      // CONNECTING means the browser retries by itself; CLOSED means it gave up.
      if (source === stream && stream.readyState === EventSource.CLOSED) {
        disconnect()
        scheduleReconnect()
      }
    })
  }

  watch(
    () => JSON.stringify(toValue(target)),
    () => {
      disconnect()
      stopReconnecting()
      tree.value = markRaw(new LogTree())
      revision.value += 1
      void reload()
      if (toValue(live)) connect()
    },
    { immediate: true },
  )

  watch(
    () => toValue(live),
    (isLive, wasLive) => {
      if (isLive) {
        attempts = 0
        connect()
      } else {
        flush()
        disconnect()
        stopReconnecting()
        // The run just ended: the stored log has the final statuses.
        if (wasLive) void reload()
      }
    },
  )

  onScopeDispose(() => {
    disconnect()
    stopReconnecting()
    clearTimeout(flushTimer)
  })

  return { tree, revision, loading, error, streaming, reload }
}
