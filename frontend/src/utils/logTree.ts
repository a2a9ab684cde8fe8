// The log of one run as a tree of steps (stages, their parallel stages and service containers),
// kept outside Vue's reactivity: a 100 k-line log would be far too slow to make deeply reactive.
// The owner mutates it (stored log, live tail lines) and bumps a revision counter; the viewer
// asks a RowIndex for only the rows it shows.

import type { LogLine, LogStep, StepImage, StepStatus, TailLogLine } from '@/api/types'

export interface StepNode {
  /** Unique within the tree: the path of names and run indexes, e.g. "test#0/svc:postgres#0". */
  key: string
  name: string
  kind: 'stage' | 'service'
  /** Nesting level in the tree: 0 for a stage, 1 for its parallel stages and services, … */
  level: number
  runIndex: number
  status: StepStatus
  duration?: number
  exitCode?: number
  autoInjected: boolean
  image?: StepImage | null
  lines: LogLine[]
  nested: StepNode[]
  services: StepNode[]
}

function nodeKey(parent: StepNode | null, kind: StepNode['kind'], name: string, runIndex: number): string {
  const own = `${kind === 'service' ? 'svc:' : ''}${name}#${runIndex}`
  return parent ? `${parent.key}/${own}` : own
}

function newNode(parent: StepNode | null, kind: StepNode['kind'], name: string, runIndex: number): StepNode {
  return {
    key: nodeKey(parent, kind, name, runIndex),
    name,
    kind,
    level: parent ? parent.level + 1 : 0,
    runIndex,
    status: 'PENDING',
    autoInjected: false,
    lines: [],
    nested: [],
    services: [],
  }
}

function fromStep(step: LogStep, parent: StepNode | null, kind: StepNode['kind']): StepNode {
  const node = newNode(parent, kind, step.step, step.runIndex ?? 0)
  node.status = step.status ?? 'UNKNOWN'
  node.duration = step.duration
  node.exitCode = step.exitCode
  node.autoInjected = step.autoInjected ?? false
  node.image = step.image
  node.lines = step.logLines ?? []
  node.nested = (step.nestedSteps ?? []).map((nested) => fromStep(nested, node, 'stage'))
  node.services = (step.services ?? []).map((service) => fromStep(service, node, 'service'))
  return node
}

export class LogTree {
  readonly steps: StepNode[]

  constructor(steps: StepNode[] = []) {
    this.steps = steps
  }

  static fromSteps(steps: readonly LogStep[]): LogTree {
    return new LogTree(steps.map((step) => fromStep(step, null, 'stage')))
  }

  /** Every node, depth first in display order. */
  *walk(): Generator<StepNode> {
    const visit = function* (nodes: StepNode[]): Generator<StepNode> {
      for (const node of nodes) {
        yield node
        yield* visit(node.nested)
        yield* visit(node.services)
      }
    }
    yield* visit(this.steps)
  }

  find(key: string): StepNode | undefined {
    for (const node of this.walk()) if (node.key === key) return node
    return undefined
  }

  get lineCount(): number {
    let count = 0
    for (const node of this.walk()) count += node.lines.length
    return count
  }

  private findStage(name: string): StepNode | undefined {
    // The most recent run of a stage with that name: a retried stage has a higher run index.
    let found: StepNode | undefined
    for (const node of this.walk()) if (node.kind === 'stage' && node.name === name) found = node
    return found
  }

  /**
   * Merges one live-tail event: finds (or adds) its step and appends the line / applies the
   * status. A line whose number is not past the step's last line is a replay after a reconnect
   * and is skipped, so reconnecting never doubles lines.
   */
  applyTail(tail: TailLogLine): void {
    const kind = tail.type === 'service' ? 'service' : 'stage'
    const runIndex = tail.runIndex ?? 0
    let parent: StepNode | null = null
    if (tail.parentStage && (kind === 'service' || (tail.depth ?? 0) > 0)) {
      parent = this.findStage(tail.parentStage) ?? null
      if (!parent) {
        parent = newNode(null, 'stage', tail.parentStage, 0)
        parent.status = 'RUNNING'
        this.steps.push(parent)
      }
    }
    const siblings = parent ? (kind === 'service' ? parent.services : parent.nested) : this.steps
    let node = siblings.find((candidate) => candidate.name === tail.step && candidate.runIndex === runIndex)
    if (!node) {
      node = newNode(parent, kind, tail.step, runIndex)
      node.status = 'RUNNING'
      siblings.push(node)
    }
    if (tail.status) node.status = tail.status
    if (tail.duration !== undefined) node.duration = tail.duration
    if (tail.exitCode !== undefined) node.exitCode = tail.exitCode
    if (tail.autoInjected !== undefined) node.autoInjected = tail.autoInjected
    if (tail.image) node.image = tail.image
    if (tail.logLine) {
      const last = node.lines[node.lines.length - 1]
      const isReplay = last !== undefined && tail.logLine.line > 0 && tail.logLine.line <= last.line
      if (!isReplay) node.lines.push(tail.logLine)
    }
  }
}

export type LogRow = { type: 'step'; node: StepNode } | { type: 'line'; node: StepNode; line: LogLine; index: number }

interface Segment {
  node: StepNode
  /** Row index of the step's header; its lines (if shown) follow directly. */
  start: number
  lineCount: number
}

/**
 * The rows of the tree as the viewer shows them (a header per visible step, then its lines when
 * expanded), addressable by row number without materialising one object per line: O(steps) to
 * build, O(log steps) per row.
 */
export class RowIndex {
  private readonly segments: Segment[] = []
  readonly length: number

  constructor(tree: LogTree, isExpanded: (node: StepNode) => boolean) {
    let row = 0
    const visit = (nodes: StepNode[]) => {
      for (const node of nodes) {
        const expanded = isExpanded(node)
        const lineCount = expanded ? node.lines.length : 0
        this.segments.push({ node, start: row, lineCount })
        row += 1 + lineCount
        if (expanded) {
          visit(node.nested)
          visit(node.services)
        }
      }
    }
    visit(tree.steps)
    this.length = row
  }

  rowAt(index: number): LogRow | undefined {
    if (index < 0 || index >= this.length) return undefined
    let low = 0
    let high = this.segments.length - 1
    while (low < high) {
      const middle = (low + high + 1) >> 1
      if (this.segments[middle]!.start <= index) low = middle
      else high = middle - 1
    }
    const segment = this.segments[low]!
    if (index === segment.start) return { type: 'step', node: segment.node }
    const lineIndex = index - segment.start - 1
    return { type: 'line', node: segment.node, line: segment.node.lines[lineIndex]!, index: lineIndex }
  }

  rowOfStep(key: string): number | undefined {
    return this.segments.find((segment) => segment.node.key === key)?.start
  }
}

/** A line named by the address's hash: `#step=<name>&line=<n>` (`&service=1` for a service container). */
export interface LogAnchor {
  step: string
  line: number
  service: boolean
}

export function parseLogAnchor(hash: string): LogAnchor | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''))
  const step = params.get('step')
  const line = Number(params.get('line'))
  if (!step || !Number.isInteger(line) || line < 1) return null
  return { step, line, service: params.get('service') === '1' }
}

/** The step (its key) and the index within it of the anchored line; the latest run of a step of that name. */
export function logAnchorRow(tree: LogTree, anchor: LogAnchor): { key: string; index: number } | null {
  let found: { key: string; index: number } | null = null
  for (const node of tree.walk()) {
    if (node.name !== anchor.step || (node.kind === 'service') !== anchor.service) continue
    const index = node.lines.findIndex((line) => line.line === anchor.line)
    if (index >= 0) found = { key: node.key, index }
  }
  return found
}
