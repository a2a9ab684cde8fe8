import { render, screen, within } from '@testing-library/vue'
import { describe, expect, it, vi } from 'vitest'

import { installFakeApi } from '@/testing/fakeApi'
import { installFakeEventSource } from '@/testing/fakeEventSource'
import { lines, logLine, makeStep, pipelineKey } from '@/testing/fixtures'

import RunLogPanel from './RunLogPanel.vue'

const LOG_PATH = '/api/pipelines/github.com/estafette/estafette-ci-api/builds/101/logs'

function renderPanel(active = true) {
  return render(RunLogPanel, { props: { run: { pipeline: pipelineKey, kind: 'build', id: '101' }, active } })
}

function lineTexts(): string[] {
  return Array.from(screen.getByRole('log').querySelectorAll('.log-line-text')).map((line) => line.textContent ?? '')
}

describe('RunLogPanel (live tail)', () => {
  it('appends live lines to the stored log and merges new steps into the tree', async () => {
    // given
    installFakeApi().on('GET', LOG_PATH, {
      body: { id: '1', steps: [makeStep({ step: 'build', logLines: lines(2) })] },
    })
    const EventSource = installFakeEventSource()
    renderPanel()
    await screen.findByText('line 2')
    const stream = EventSource.latest()
    expect(stream.url).toBe(`${LOG_PATH}.stream`)
    // when
    stream.open()
    stream.emit('log', { step: 'build', type: 'stage', depth: 0, logLine: logLine(3, 'compiled') })
    stream.emit('ping')
    stream.emit('log', { step: 'build', type: 'stage', depth: 0, status: 'SUCCEEDED', exitCode: 0 })
    stream.emit('log', {
      step: 'push',
      type: 'stage',
      depth: 0,
      status: 'RUNNING',
      logLine: logLine(1, 'pushing'),
    })
    // then
    expect(await screen.findByText('pushing')).toBeTruthy()
    expect(lineTexts()).toEqual(['line 1', 'line 2', 'compiled', 'pushing'])
    const steps = screen.getByRole('navigation', { name: 'Steps' })
    expect(within(steps).getByRole('button', { name: 'Show stage push in the log' })).toBeTruthy()
    expect(screen.getByRole('status').textContent).toBe('live')
  })

  it('does not double lines the server sends again after a reconnect', async () => {
    // given
    installFakeApi().on('GET', LOG_PATH, { body: { steps: [makeStep({ step: 'build', logLines: lines(2) })] } })
    const EventSource = installFakeEventSource()
    renderPanel()
    await screen.findByText('line 2')
    const stream = EventSource.latest()
    // when
    stream.emit('log', { step: 'build', logLine: logLine(2, 'line 2') })
    stream.emit('log', { step: 'build', logLine: logLine(3, 'line 3') })
    // then
    await screen.findByText('line 3')
    expect(lineTexts()).toEqual(['line 1', 'line 2', 'line 3'])
  })

  it('reads the stored log again and reports the end when the server closes the stream', async () => {
    // given
    let final = false
    const fake = installFakeApi().on('GET', LOG_PATH, () => ({
      body: {
        steps: [makeStep({ step: 'build', status: final ? 'SUCCEEDED' : 'RUNNING', logLines: lines(final ? 4 : 1) })],
      },
    }))
    const EventSource = installFakeEventSource()
    const { emitted } = renderPanel()
    await screen.findByText('line 1')
    const stream = EventSource.latest()
    // when
    final = true
    stream.emit('close')
    // then
    await screen.findByText('line 4')
    expect(stream.isClosed).toBe(true)
    expect(fake.requestsTo('GET', LOG_PATH)).toHaveLength(2)
    await vi.waitFor(() => expect(emitted().ended).toHaveLength(1))
  })

  it('opens no stream for a finished run', async () => {
    // given
    installFakeApi().on('GET', LOG_PATH, { body: { steps: [makeStep({ step: 'build', logLines: lines(1) })] } })
    const EventSource = installFakeEventSource()
    // when
    renderPanel(false)
    await screen.findByText('line 1')
    // then
    expect(EventSource.instances).toHaveLength(0)
    expect(screen.queryByRole('status')).toBeNull()
  })
})
