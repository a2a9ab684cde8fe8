// Readable forms of trigger definitions and of the events that started a run. Both are objects
// with one member per kind (Estafette's JSON), e.g. {"git": {"event": "push", "branch": "main"}}.

import type { EstafetteEvent, Trigger } from '@/api/types'

export interface Described {
  kind: string
  details: [string, string][]
}

const EVENT_KINDS = ['pipeline', 'release', 'git', 'docker', 'cron', 'pubsub', 'github', 'bitbucket', 'manual'] as const
const ACTION_KINDS = ['builds', 'releases', 'runs'] as const

function text(value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

function details(value: unknown): [string, string][] {
  if (!value || typeof value !== 'object') return []
  return Object.entries(value as Record<string, unknown>)
    .map(([key, inner]): [string, string] => [key, text(inner)])
    .filter(([, inner]) => inner !== '')
}

function firstPresent(source: Record<string, unknown>, kinds: readonly string[]): Described | undefined {
  for (const kind of kinds) {
    const value = source[kind]
    if (value !== null && value !== undefined && typeof value === 'object') return { kind, details: details(value) }
  }
  return undefined
}

/** What started a run: the kind of event (git, pipeline, manual, …) and its fields. */
export function describeEvent(event: EstafetteEvent): Described {
  const known = firstPresent(event, EVENT_KINDS)
  if (known) return known
  const other = Object.entries(event).find(
    ([key, value]) => key !== 'name' && key !== 'fired' && value && typeof value === 'object',
  )
  return other ? { kind: other[0], details: details(other[1]) } : { kind: 'unknown', details: [] }
}

export interface DescribedTrigger {
  name: string
  event: Described
  action: Described
}

/** A trigger as "when <event> … then <action> …". */
export function describeTrigger(trigger: Trigger): DescribedTrigger {
  return {
    name: typeof trigger.name === 'string' ? trigger.name : '',
    event: firstPresent(trigger, EVENT_KINDS) ?? { kind: 'unknown', details: [] },
    action: firstPresent(trigger, ACTION_KINDS) ?? { kind: 'builds', details: [] },
  }
}
