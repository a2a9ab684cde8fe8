import { fireEvent, render, screen, within } from '@testing-library/vue'
import { describe, expect, it } from 'vitest'

import { lines, logLine, makeStep } from '@/testing/fixtures'
import { LogTree } from '@/utils/logTree'

import BuildLog from './BuildLog.vue'

const ESC = '\x1b'

function renderLog(tree: LogTree, props: Record<string, unknown> = {}) {
  return render(BuildLog, { props: { tree, revision: 1, ...props } })
}

/** The text nodes of an element joined by single spaces (the template drops whitespace between tags). */
function cellsText(element: Element): string {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT)
  const texts: string[] = []
  for (let node = walker.nextNode(); node; node = walker.nextNode()) texts.push(node.textContent!.trim())
  return texts.filter(Boolean).join(' ')
}

/** jsdom does no layout: give the viewport the size a browser would. */
function sizeViewport(viewport: HTMLElement, rows: number, height = 440): void {
  Object.defineProperty(viewport, 'clientHeight', { configurable: true, value: height })
  Object.defineProperty(viewport, 'scrollHeight', { configurable: true, value: rows * 22 })
}

function logLines(): HTMLElement[] {
  return Array.from(screen.getByRole('log', { name: 'Log lines' }).querySelectorAll<HTMLElement>('.log-line'))
}

describe('BuildLog', () => {
  it('shows the step tree with parallel stages and services, each with status, duration and exit code', () => {
    // given
    const tree = LogTree.fromSteps([
      makeStep({
        step: 'test',
        status: 'FAILED',
        exitCode: 1,
        duration: 65_000_000_000,
        nestedSteps: [
          makeStep({ step: 'unit', status: 'SUCCEEDED', duration: 2_000_000_000, exitCode: 0 }),
          makeStep({ step: 'lint', status: 'FAILED', duration: 1_000_000_000, exitCode: 3 }),
        ],
        services: [makeStep({ step: 'postgres', status: 'RUNNING', exitCode: 0, duration: 0 })],
      }),
    ])
    // when
    renderLog(tree)
    // then
    const steps = screen.getByRole('navigation', { name: 'Steps' })
    const test = within(steps).getByRole('button', { name: 'Show stage test in the log' }).closest('li')!
    expect(cellsText(test.querySelector('.step-tree-row')!)).toBe('test failed 1m 5s exit 1')
    const nested = within(test).getAllByRole('listitem')
    expect(nested.map((item) => cellsText(item.querySelector('.step-tree-row')!))).toEqual([
      'unit succeeded 2s exit 0',
      'lint failed 1s exit 3',
      'service postgres running',
    ])
    const header = screen.getByRole('button', { name: 'test', expanded: true }).closest('.log-step')!
    expect(header.textContent).toMatch(/failed/)
    expect(header.textContent).toMatch(/exit code 1/)
    expect(header.querySelector('.status-failed')).not.toBeNull()
  })

  it('shows no exit code for a skipped stage: it never ran', () => {
    // given: the builder reports a skipped stage with a placeholder exit code 0
    const tree = LogTree.fromSteps([
      makeStep({ step: 'build', status: 'FAILED', exitCode: 2, duration: 3_000_000_000 }),
      makeStep({ step: 'deploy', status: 'SKIPPED', exitCode: 0, duration: 0 }),
    ])
    // when
    renderLog(tree)
    // then
    const steps = screen.getByRole('navigation', { name: 'Steps' })
    const deploy = within(steps).getByRole('button', { name: 'Show stage deploy in the log' }).closest('li')!
    expect(cellsText(deploy.querySelector('.step-tree-row')!)).not.toMatch(/exit/)
    expect(cellsText(deploy.querySelector('.step-tree-row')!)).toMatch(/skipped/)
    const header = screen.getByRole('button', { name: 'deploy' }).closest('.log-step')!
    expect(header.textContent).toMatch(/skipped/)
    expect(header.textContent).not.toMatch(/exit code/)
  })

  it('renders ANSI colours as styled text and never as markup', () => {
    // given
    const tree = LogTree.fromSteps([
      makeStep({
        logLines: [logLine(1, `${ESC}[32mPASS${ESC}[0m all tests`), logLine(2, '<img src=x onerror=alert(1)>')],
      }),
    ])
    // when
    renderLog(tree)
    // then
    const [first, second] = logLines()
    const green = within(first!).getByText('PASS')
    expect(green.className).toBe('ansi-fg-2')
    expect(first!.textContent).toContain('PASS all tests')
    expect(second!.querySelector('img')).toBeNull()
    expect(second!.textContent).toContain('<img src=x onerror=alert(1)>')
  })

  it('collapses and expands a step with its button', async () => {
    // given
    renderLog(LogTree.fromSteps([makeStep({ step: 'build', logLines: lines(3) })]))
    expect(logLines()).toHaveLength(3)
    // when
    await fireEvent.click(screen.getByRole('button', { name: 'build', expanded: true }))
    // then
    expect(logLines()).toHaveLength(0)
    expect(screen.getByRole('button', { name: 'build', expanded: false })).toBeTruthy()
  })

  it('dims auto-injected steps and starts them collapsed', () => {
    // given
    const tree = LogTree.fromSteps([
      makeStep({ step: 'builder-info', autoInjected: true, logLines: lines(5) }),
      makeStep({ step: 'build', logLines: lines(2) }),
    ])
    // when
    renderLog(tree)
    // then
    const injected = screen.getByRole('button', { name: 'builder-info', expanded: false }).closest('.log-step')!
    expect(injected.classList).toContain('is-auto-injected')
    expect(injected.textContent).toContain('auto-injected')
    expect(logLines()).toHaveLength(2)
  })

  it('renders only the visible rows of a 100 000-line log', () => {
    // given
    const tree = LogTree.fromSteps([makeStep({ step: 'build', logLines: lines(100_000) })])
    // when
    renderLog(tree)
    // then
    expect(screen.getByText('100000 lines')).toBeTruthy()
    const rendered = logLines()
    expect(rendered.length).toBeGreaterThan(10)
    expect(rendered.length).toBeLessThan(100)
    const spacer = screen.getByRole('log').querySelector<HTMLElement>('.log-spacer')!
    expect(spacer.style.height).toBe(`${100_001 * 22}px`)
  })

  it('shows the rows at the scroll position', async () => {
    // given
    renderLog(LogTree.fromSteps([makeStep({ step: 'build', logLines: lines(100_000) })]))
    const viewport = screen.getByRole('log')
    // when: scroll to row 50 000 (the header is row 0, so line 50 000)
    viewport.scrollTop = 50_000 * 22
    await fireEvent.scroll(viewport)
    // then
    const numbers = logLines().map((line) => Number(line.querySelector('.log-line-number')!.textContent))
    expect(numbers).toContain(50_000)
    expect(numbers).not.toContain(1)
  })

  it('turns following off when the reader scrolls up, and back on with the toggle', async () => {
    // given
    const { emitted } = renderLog(LogTree.fromSteps([makeStep({ logLines: lines(1000) })]), { follow: true })
    const viewport = screen.getByRole('log')
    sizeViewport(viewport, 1001)
    // when
    viewport.scrollTop = 10 * 22
    await fireEvent.scroll(viewport)
    await fireEvent.click(screen.getByRole('checkbox', { name: 'Follow log' }))
    // then
    expect(emitted()['update:follow']).toEqual([[false], [false]])
  })

  it('opens and scrolls to a step chosen in the step tree', async () => {
    // given
    const tree = LogTree.fromSteps([
      makeStep({ step: 'builder-info', autoInjected: true, logLines: lines(10) }),
      makeStep({ step: 'build', logLines: lines(5000) }),
      makeStep({ step: 'push', logLines: lines(3) }),
    ])
    renderLog(tree)
    // when
    await fireEvent.click(screen.getByRole('button', { name: 'Show stage push in the log' }))
    // then
    expect(await screen.findByRole('button', { name: 'push', expanded: true })).toBeTruthy()
    expect(screen.getByRole('log').scrollTop).toBe((1 + 1 + 5000) * 22)
  })
})
