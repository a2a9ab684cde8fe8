import { computed, type ComputedRef } from 'vue'
import { useRoute, useRouter, type LocationQuery, type LocationQueryRaw } from 'vue-router'

import type { ListFilter } from '@/api/estafette'

// The filters of a list page live in the URL query, so a filtered page can be bookmarked, shared
// and navigated with the back button: ?status=failed&since=1w&label=team=ci&search=api&page=2

function single(value: LocationQuery[string]): string | undefined {
  const first = Array.isArray(value) ? value[0] : value
  return first ? first : undefined
}

function many(value: LocationQuery[string]): string[] {
  const values = Array.isArray(value) ? value : value ? [value] : []
  return values.filter((item): item is string => typeof item === 'string' && item !== '')
}

export function filterFromQuery(query: LocationQuery): ListFilter {
  const page = Number.parseInt(single(query.page) ?? '', 10)
  return {
    status: single(query.status),
    since: single(query.since),
    labels: many(query.label),
    search: single(query.search),
    branch: single(query.branch),
    target: single(query.target),
    page: Number.isFinite(page) && page > 1 ? page : undefined,
  }
}

export function filterToQuery(filter: ListFilter): LocationQueryRaw {
  const query: LocationQueryRaw = {}
  if (filter.status) query.status = filter.status
  if (filter.since) query.since = filter.since
  if (filter.labels && filter.labels.length > 0) query.label = [...filter.labels]
  if (filter.search) query.search = filter.search
  if (filter.branch) query.branch = filter.branch
  if (filter.target) query.target = filter.target
  if (filter.page && filter.page > 1) query.page = String(filter.page)
  return query
}

export interface ListFilterState {
  filter: ComputedRef<ListFilter>
  /** Changes some filters; any change but the page itself goes back to page 1. */
  update: (patch: Partial<ListFilter>) => void
}

export function useListFilter(): ListFilterState {
  const route = useRoute()
  const router = useRouter()
  const filter = computed(() => filterFromQuery(route.query))

  function update(patch: Partial<ListFilter>): void {
    const next: ListFilter = { ...filter.value, page: undefined, ...patch }
    void router.push({ query: filterToQuery(next) })
  }

  return { filter, update }
}
