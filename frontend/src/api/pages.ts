// Typed calls for the pages beyond pipelines and runs (router/pages.ts): home, insights, secrets, catalog,
// manifest tools and configuration. Nothing here keeps state. Shapes come from schema.d.ts.

import { api, type Query } from './client'
import type { components } from './schema'
import type { Page, Pipeline } from './types'

type Schemas = components['schemas']

interface Options {
  signal?: AbortSignal
}

export type StatsSubject = 'builds' | 'releases' | 'bots'
export const STATS_SUBJECTS: readonly StatsSubject[] = ['builds', 'releases', 'bots']

/** One pipeline's place in a ranking (most builds, releases or bot runs): Estafette's snake_case JSON. */
export type PipelineCount = Schemas['MostBuilds']
export type DurationItem = Schemas['StatsBuildsDurationItem']
export type ManifestTemplate = Schemas['Template']
export type Validation = Schemas['Validation']
export type EncryptRequest = Schemas['EncryptRequest']
export type FrequentLabel = Schemas['FrequentLabel']
export type CatalogEntity = Schemas['CatalogEntity']
export type CatalogEntityRequest = Schemas['CatalogEntityRequest']

const sinceQuery = (since: string): Query => ({ 'filter[since]': since })

// -- home ---------------------------------------------------------------------------------------

/** Pipelines with a recent commit (`committer`) or release (`releaser`) by this e-mail address. */
export const listPipelinesOf = (role: 'committer' | 'releaser', email: string, options: Options = {}) =>
  api.get<Page<Pipeline>>('/pipelines', {
    query: { [`filter[recent-${role}]`]: email, 'filter[since]': 'eternity', 'page[size]': 12 },
    ...options,
  })

// -- insights (ESTAFETTE.md §3.3 stats routes) -----------------------------------------------------

export const getPipelinesCount = (since: string, options: Options = {}) =>
  api.get<Schemas['StatsBuildsCount']>('/stats/pipelinescount', { query: sinceQuery(since), ...options })

export const getRunCount = (subject: StatsSubject, since: string, options: Options = {}) =>
  api.get<Schemas['StatsBuildsCount']>(`/stats/${subject}count`, { query: sinceQuery(since), ...options })

/** The median duration (nanoseconds) of the runs in the period. */
export const getRunDuration = (subject: StatsSubject, since: string, options: Options = {}) =>
  api.get<Schemas['StatsBuildsDuration']>(`/stats/${subject}duration`, { query: sinceQuery(since), ...options })

/** When each pipeline ran its first run of this kind, oldest first. */
export const getAdoption = (subject: StatsSubject, options: Options = {}) =>
  api.get<Schemas['StatsBuildsAdoption']>(`/stats/${subject}adoption`, options)

export const getMostRuns = (subject: StatsSubject, since: string, options: Options = {}) =>
  api.get<Page<PipelineCount>>(`/stats/most${subject}`, {
    query: { ...sinceQuery(since), 'page[size]': 10 },
    ...options,
  })

/** A pipeline's latest runs' durations (newest first). */
export const getPipelineDurations = (path: string, subject: StatsSubject, options: Options = {}) =>
  api.get<{ durations: DurationItem[] }>(`${path}/stats/${subject}durations`, {
    query: { 'filter[last]': 50 },
    ...options,
  })

// -- secrets, manifest ----------------------------------------------------------------------------

export const encryptSecret = (request: EncryptRequest) => api.post<Schemas['Secret']>('/manifest/encrypt', request)

export const getManifestTemplates = (options: Options = {}) =>
  api.get<Schemas['Templates']>('/manifest/templates', options)

export const generateManifest = (template: string, placeholders: Record<string, string>) =>
  api.post<Schemas['Generated']>('/manifest/generate', { template, placeholders })

export const validateManifest = (manifest: string) => api.post<Validation>('/manifest/validate', { manifest })

// -- catalog --------------------------------------------------------------------------------------

/** The label keys the catalog offers (the server's `catalog.filters`). */
export const getCatalogFilters = (options: Options = {}) => api.get<string[]>('/catalog/filters', options)

/** The values of one label key with their number of pipelines. */
export const getCatalogFilterValues = (key: string, options: Options = {}) =>
  api.get<FrequentLabel[]>('/catalog/filtervalues', { query: { 'filter[labels]': key }, ...options })

export const listPipelinesWithLabel = (label: string, page: number, options: Options = {}) =>
  api.get<Page<Pipeline>>('/pipelines', {
    query: { 'filter[labels]': label, 'filter[since]': 'eternity', 'page[number]': page, 'page[size]': 20 },
    ...options,
  })

/** The catalog entities' filters: `parent`/`entity` are `key` or `key=value`, `labels` is `key=value`. */
export interface CatalogEntityQuery {
  search?: string
  parent?: string
  entity?: string
  labels?: string
  pipeline?: string
}

export const listCatalogEntities = (filters: CatalogEntityQuery, page: number, options: Options = {}) =>
  api.get<Page<CatalogEntity>>('/catalog/entities', {
    query: {
      ...Object.fromEntries(
        Object.entries(filters)
          .filter(([, value]) => value)
          .map(([name, value]) => [`filter[${name}]`, value]),
      ),
      sort: 'parent_key,parent_value,key,value',
      'page[number]': page,
      'page[size]': 20,
    },
    ...options,
  })

export const createCatalogEntity = (entity: CatalogEntityRequest) =>
  api.post<CatalogEntity>('/catalog/entities', entity)

export const updateCatalogEntity = (id: string, entity: CatalogEntityRequest) =>
  api.put<Schemas['CatalogEntityChanged']>(`/catalog/entities/${encodeURIComponent(id)}`, { ...entity, id })

export const deleteCatalogEntity = (id: string) =>
  api.delete<Schemas['CatalogEntityChanged']>(`/catalog/entities/${encodeURIComponent(id)}`)

// -- configuration --------------------------------------------------------------------------------

export const CONFIG_SECTIONS = [
  { path: '/config', label: 'Everything' },
  { path: '/config/credentials', label: 'Credentials' },
  { path: '/config/trustedimages', label: 'Trusted images' },
  { path: '/config/buildControl', label: 'Build control' },
] as const

export const getConfig = (path: string, options: Options = {}) => api.get<Schemas['ConfigYaml']>(path, options)
