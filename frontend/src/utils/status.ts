// Status words and their colours, as Estafette's UI shows them: succeeded green, running amber,
// failed red, pending blue, canceling/canceled/skipped grey, anything else light.

export type StatusTone = 'succeeded' | 'running' | 'failed' | 'pending' | 'neutral' | 'unknown'

const TONES: Record<string, StatusTone> = {
  succeeded: 'succeeded',
  running: 'running',
  failed: 'failed',
  pending: 'pending',
  canceling: 'neutral',
  canceled: 'neutral',
  skipped: 'neutral',
}

/** Works for run statuses (`succeeded`) and step statuses (`SUCCEEDED`) alike. */
export function statusTone(status: string | null | undefined): StatusTone {
  return TONES[(status ?? '').toLowerCase()] ?? 'unknown'
}

export function statusLabel(status: string | null | undefined): string {
  const word = (status ?? '').toLowerCase()
  return word === '' ? 'unknown' : word
}

/** Still doing something: worth a live tail and a cancel button. */
export function isActiveStatus(status: string | null | undefined): boolean {
  return ['pending', 'running', 'canceling'].includes((status ?? '').toLowerCase())
}

/** Cancel applies to pending and running runs; again on `canceling` it forces the stop (Estafette §3.5). */
export function canCancel(status: string | null | undefined): boolean {
  return isActiveStatus(status)
}

/** Only a failed or canceled version may be built again. */
export function canRebuild(status: string | null | undefined): boolean {
  return ['failed', 'canceled'].includes((status ?? '').toLowerCase())
}

/** Only a succeeded build may be released. */
export function canRelease(status: string | null | undefined): boolean {
  return (status ?? '').toLowerCase() === 'succeeded'
}

export const RUN_STATUS_OPTIONS = ['succeeded', 'failed', 'running', 'pending', 'canceling', 'canceled'] as const

export const SINCE_OPTIONS = [
  { value: '1h', label: 'last hour' },
  { value: '1d', label: 'last day' },
  { value: '1w', label: 'last week' },
  { value: '1m', label: 'last month' },
  { value: '1y', label: 'last year' },
  { value: 'eternity', label: 'any time' },
] as const

/** A step that has ended: only then do its exit code and duration mean anything. */
export function isFinishedStep(status: string | null | undefined): boolean {
  return ['SUCCEEDED', 'FAILED', 'CANCELED', 'SKIPPED'].includes((status ?? '').toUpperCase())
}

/**
 * A step that ran and ended: only then does its exit code mean something. A skipped step never ran (its `when`
 * was false, or a stage before it failed): the builder reports it with a placeholder exit code 0, not its outcome.
 */
export function stepHasRun(status: string | null | undefined): boolean {
  return isFinishedStep(status) && (status ?? '').toUpperCase() !== 'SKIPPED'
}
