// Addresses of the UI's pages as plain strings. Big tables use them in ordinary <a data-spa-link>
// elements instead of <RouterLink>: resolving thousands of RouterLinks is what made a 1 000-row
// table slow to render. App.vue hands clicks on such links to the router (see useSpaLinks).

import type { PipelineKey } from '@/api/estafette'
import type { RunKind } from '@/api/types'

import { runKind } from './runKinds'

const segment = encodeURIComponent

function pipelineBase(key: PipelineKey): string {
  return `/pipelines/${segment(key.source)}/${segment(key.owner)}/${segment(key.name)}`
}

/** A pipeline's page: its overview, its triggers, or the tab of one kind of run (`builds`, `releases`, …). */
export function pipelineHref(key: PipelineKey, tab = 'overview'): string {
  return `${pipelineBase(key)}/${tab}`
}

export function runHref(key: PipelineKey, kind: RunKind, id: string): string {
  return `${pipelineBase(key)}/${runKind(kind).segment}/${segment(id)}`
}
