// The statistics routes' answers as chart series: what InsightsChart draws and lists.

import type { DurationItem, PipelineCount } from '@/api/pages'

export interface Series {
  label: string
  data: number[]
}

export interface ChartData {
  labels: string[]
  series: Series[]
}

/** Pipelines that had adopted builds/releases/bots by each day: a running total over the days of first runs. */
export function adoptionChart(label: string, datetimes: readonly string[]): ChartData {
  const perDay = new Map<string, number>()
  for (const datetime of [...datetimes].sort()) {
    const day = datetime.slice(0, 10)
    perDay.set(day, (perDay.get(day) ?? 0) + 1)
  }
  let total = 0
  const data: number[] = []
  for (const count of perDay.values()) {
    total += count
    data.push(total)
  }
  return { labels: [...perDay.keys()], series: [{ label, data }] }
}

/** A ranking (most builds, releases, bot runs) as one bar per pipeline, most first. */
export function rankingChart(label: string, items: readonly PipelineCount[]): ChartData {
  return {
    labels: items.map((item) => `${item.repo_owner}/${item.repo_name}`),
    series: [{ label, data: items.map((item) => item.nr_records) }],
  }
}

const NS_PER_MINUTE = 60_000_000_000

/** A pipeline's latest runs, oldest first, with their waiting and running time in minutes. */
export function durationChart(items: readonly DurationItem[]): ChartData {
  const oldestFirst = [...items].reverse()
  const minutes = (ns: number) => Math.round((ns / NS_PER_MINUTE) * 100) / 100
  return {
    labels: oldestFirst.map((item) => item.insertedAt.slice(0, 16).replace('T', ' ')),
    series: [
      { label: 'Running (minutes)', data: oldestFirst.map((item) => minutes(item.duration)) },
      { label: 'Pending (minutes)', data: oldestFirst.map((item) => minutes(item.pendingDuration)) },
    ],
  }
}
