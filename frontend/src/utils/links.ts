// Addresses of the UI's pages as plain strings. Big tables use them in ordinary <a data-spa-link>
// elements instead of <RouterLink>: resolving thousands of RouterLinks is what made a 1 000-row
// table slow to render. App.vue hands clicks on such links to the router (see useSpaLinks).

import type { PipelineKey } from '@/api/estafette'

const segment = encodeURIComponent

export function pipelineHref(
  key: PipelineKey,
  tab: 'overview' | 'builds' | 'releases' | 'triggers' = 'overview',
): string {
  return `/pipelines/${segment(key.source)}/${segment(key.owner)}/${segment(key.name)}/${tab}`
}

export function buildHref(key: PipelineKey, id: string): string {
  return `/pipelines/${segment(key.source)}/${segment(key.owner)}/${segment(key.name)}/builds/${segment(id)}`
}

export function releaseHref(key: PipelineKey, id: string): string {
  return `/pipelines/${segment(key.source)}/${segment(key.owner)}/${segment(key.name)}/releases/${segment(id)}`
}
