import { effectScope, ref } from 'vue'
import { describe, expect, it, vi } from 'vitest'

import { installFakeApi } from '@/testing/fakeApi'
import { installFakeEventSource } from '@/testing/fakeEventSource'
import { lines, logLine, makeStep, pipelineKey } from '@/testing/fixtures'

import { useLiveLog } from './useLiveLog'

const LOG_PATH = '/api/pipelines/github.com/estafette/estafette-ci-api/releases/7/logs'

function start(live: boolean, options = {}) {
  const scope = effectScope()
  const liveRef = ref(live)
  const state = scope.run(() =>
    useLiveLog({ pipeline: pipelineKey, kind: 'release', id: '7' }, liveRef, {
      reconnectMs: 5,
      flushMs: 1,
      ...options,
    }),
  )!
  return { state, liveRef, stop: () => scope.stop() }
}

describe('useLiveLog', () => {
  it('reconnects with backoff when the stream breaks for good', async () => {
    // given
    installFakeApi().on('GET', LOG_PATH, { body: { steps: [makeStep({ logLines: lines(1) })] } })
    const EventSource = installFakeEventSource()
    const { stop } = start(true)
    const first = EventSource.latest()
    // when
    first.fail()
    // then
    await vi.waitFor(() => expect(EventSource.instances).toHaveLength(2))
    expect(first.isClosed).toBe(true)
    expect(EventSource.latest().url).toBe(`${LOG_PATH}.stream`)
    stop()
  })

  it('closes the stream and reads the final log when the run stops being live', async () => {
    // given
    const fake = installFakeApi().on('GET', LOG_PATH, { body: { steps: [makeStep({ logLines: lines(2) })] } })
    const EventSource = installFakeEventSource()
    const { state, liveRef, stop } = start(true)
    await vi.waitFor(() => expect(state.tree.value.lineCount).toBe(2))
    // when
    liveRef.value = false
    // then
    await vi.waitFor(() => expect(fake.requestsTo('GET', LOG_PATH)).toHaveLength(2))
    expect(EventSource.latest().isClosed).toBe(true)
    expect(state.streaming.value).toBe(false)
    stop()
  })

  it('keeps live lines that arrive while the stored log is being read', async () => {
    // given: the stored log answers only after a live line came in
    let answer: (() => void) | undefined
    installFakeApi().on(
      'GET',
      LOG_PATH,
      () =>
        new Promise((resolve) => {
          answer = () => resolve({ body: { steps: [makeStep({ step: 'build', logLines: lines(2) })] } })
        }),
    )
    const EventSource = installFakeEventSource()
    const { state, stop } = start(true)
    // when
    EventSource.latest().emit('log', { step: 'build', logLine: logLine(3, 'live') })
    await new Promise((resolve) => setTimeout(resolve, 5))
    answer!()
    // then
    await vi.waitFor(() => expect(state.tree.value.lineCount).toBe(3))
    expect(state.tree.value.find('build#0')!.lines.map((line) => line.text)).toEqual(['line 1', 'line 2', 'live'])
    stop()
  })

  it('says why when the stored log cannot be read', async () => {
    // given
    installFakeApi().on('GET', LOG_PATH, {
      status: 500,
      body: { code: 'Internal Server Error', message: 'log store down' },
    })
    installFakeEventSource()
    // when
    const { state, stop } = start(false)
    // then
    await vi.waitFor(() => expect(state.error.value?.message).toBe('log store down'))
    stop()
  })

  it('shows an empty log, not an error, while a run has no log yet', async () => {
    // given
    const fake = installFakeApi().on('GET', LOG_PATH, {
      status: 404,
      body: { code: 'Not Found', message: 'release 7 has no logs yet' },
    })
    const EventSource = installFakeEventSource()
    const { state, stop } = start(true)
    // when
    EventSource.latest().emit('log', { step: 'deploy', logLine: logLine(1, 'first') })
    // then
    await vi.waitFor(() => expect(fake.requests).toHaveLength(1))
    await vi.waitFor(() => expect(state.loading.value).toBe(false))
    expect(state.error.value).toBeNull()
    await vi.waitFor(() => expect(state.tree.value.lineCount).toBe(1))
    stop()
  })
})
