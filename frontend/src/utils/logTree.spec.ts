import { describe, expect, it } from 'vitest'

import { lines, logLine, makeStep } from '@/testing/fixtures'

import { LogTree, logAnchorRow, parseLogAnchor, RowIndex } from './logTree'

function treeWithParallelStagesAndServices(): LogTree {
  return LogTree.fromSteps([
    makeStep({ step: 'builder-info', autoInjected: true, logLines: lines(2) }),
    makeStep({
      step: 'test',
      logLines: lines(1),
      nestedSteps: [
        makeStep({ step: 'unit', depth: 1, logLines: lines(2) }),
        makeStep({ step: 'lint', depth: 1, status: 'FAILED', exitCode: 1, logLines: lines(1) }),
      ],
      services: [makeStep({ step: 'postgres', logLines: lines(1) })],
    }),
  ])
}

describe('LogTree', () => {
  it('keeps stages, parallel stages and services as a tree', () => {
    // when
    const tree = treeWithParallelStagesAndServices()
    // then
    expect([...tree.walk()].map((node) => [node.key, node.level])).toEqual([
      ['builder-info#0', 0],
      ['test#0', 0],
      ['test#0/unit#0', 1],
      ['test#0/lint#0', 1],
      ['test#0/svc:postgres#0', 1],
    ])
    expect(tree.lineCount).toBe(7)
  })

  it('merges live lines into their stage, parallel stage or service, creating new steps', () => {
    // given
    const tree = treeWithParallelStagesAndServices()
    // when
    tree.applyTail({ step: 'unit', parentStage: 'test', type: 'stage', depth: 1, logLine: logLine(3, 'ok') })
    tree.applyTail({ step: 'redis', parentStage: 'test', type: 'service', depth: 1, logLine: logLine(1, 'r') })
    tree.applyTail({ step: 'push', type: 'stage', depth: 0, status: 'RUNNING', logLine: logLine(1, 'p') })
    // then
    expect(tree.find('test#0/unit#0')!.lines.map((line) => line.text)).toEqual(['line 1', 'line 2', 'ok'])
    expect(tree.find('test#0/svc:redis#0')!.lines).toHaveLength(1)
    expect(tree.find('push#0')).toMatchObject({ status: 'RUNNING', level: 0 })
  })

  it('applies status, duration and exit code changes', () => {
    // given
    const tree = treeWithParallelStagesAndServices()
    // when
    tree.applyTail({ step: 'test', type: 'stage', status: 'FAILED', exitCode: 2, duration: 5_000_000_000 })
    // then
    expect(tree.find('test#0')).toMatchObject({ status: 'FAILED', exitCode: 2, duration: 5_000_000_000 })
  })

  it('skips lines replayed after a reconnect', () => {
    // given
    const tree = new LogTree()
    tree.applyTail({ step: 'build', logLine: logLine(1, 'a') })
    tree.applyTail({ step: 'build', logLine: logLine(2, 'b') })
    // when
    tree.applyTail({ step: 'build', logLine: logLine(2, 'b') })
    tree.applyTail({ step: 'build', logLine: logLine(3, 'c') })
    // then
    expect(tree.find('build#0')!.lines.map((line) => line.text)).toEqual(['a', 'b', 'c'])
  })

  it('keeps a retried stage (next run index) apart', () => {
    // given
    const tree = new LogTree()
    tree.applyTail({ step: 'deploy', runIndex: 0, status: 'FAILED' })
    // when
    tree.applyTail({ step: 'deploy', runIndex: 1, logLine: logLine(1, 'again') })
    // then
    expect(tree.steps.map((node) => node.key)).toEqual(['deploy#0', 'deploy#1'])
  })
})

describe('RowIndex', () => {
  it('addresses header and line rows in display order', () => {
    // given
    const tree = treeWithParallelStagesAndServices()
    // when
    const rows = new RowIndex(tree, () => true)
    // then: 5 headers + 7 lines
    expect(rows.length).toBe(12)
    const described = Array.from({ length: rows.length }, (_, index) => {
      const row = rows.rowAt(index)!
      return row.type === 'step' ? `# ${row.node.name}` : `${row.node.name}: ${row.line.text}`
    })
    expect(described).toEqual([
      '# builder-info',
      'builder-info: line 1',
      'builder-info: line 2',
      '# test',
      'test: line 1',
      '# unit',
      'unit: line 1',
      'unit: line 2',
      '# lint',
      'lint: line 1',
      '# postgres',
      'postgres: line 1',
    ])
    expect(rows.rowAt(12)).toBeUndefined()
  })

  it('hides the lines and children of a collapsed step', () => {
    // given
    const tree = treeWithParallelStagesAndServices()
    // when
    const rows = new RowIndex(tree, (node) => node.name !== 'test')
    // then
    expect(rows.length).toBe(3 + 1)
    expect(rows.rowOfStep('test#0')).toBe(3)
    expect(rows.rowOfStep('test#0/unit#0')).toBeUndefined()
  })

  it('finds any row of a 100 000-line log without building one object per line', () => {
    // given
    const tree = LogTree.fromSteps([
      makeStep({ step: 'a', logLines: lines(50_000) }),
      makeStep({ step: 'b', logLines: lines(50_000) }),
    ])
    // when
    const rows = new RowIndex(tree, () => true)
    // then
    expect(rows.length).toBe(100_002)
    expect(rows.rowAt(50_001)).toMatchObject({ type: 'step', node: { name: 'b' } })
    expect(rows.rowAt(100_001)).toMatchObject({ type: 'line', line: { line: 50_000 } })
  })
})

describe('log anchors', () => {
  it('reads the log search link’s hash and finds the line in its step', () => {
    // given
    const tree = treeWithParallelStagesAndServices()
    // when
    const anchor = parseLogAnchor('#step=lint&line=1')
    // then
    expect(anchor).toEqual({ step: 'lint', line: 1, service: false })
    expect(logAnchorRow(tree, anchor!)).toEqual({ key: 'test#0/lint#0', index: 0 })
    expect(logAnchorRow(tree, { step: 'postgres', line: 1, service: true })).toEqual({
      key: 'test#0/svc:postgres#0',
      index: 0,
    })
  })

  it('ignores a hash that names no line', () => {
    expect(parseLogAnchor('#top')).toBeNull()
    expect(parseLogAnchor('#step=unit&line=0')).toBeNull()
    expect(logAnchorRow(treeWithParallelStagesAndServices(), { step: 'unit', line: 99, service: false })).toBeNull()
  })
})
