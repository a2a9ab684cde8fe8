// Human-readable durations, sizes and times. Durations arrive in nanoseconds (Go time.Duration).

const NS_PER_MS = 1_000_000
const NS_PER_S = 1_000_000_000

export function formatDuration(nanoseconds: number | null | undefined): string {
  if (nanoseconds === null || nanoseconds === undefined || !Number.isFinite(nanoseconds) || nanoseconds < 0) return ''
  if (nanoseconds < NS_PER_S) return `${Math.round(nanoseconds / NS_PER_MS)}ms`
  let seconds = Math.round(nanoseconds / NS_PER_S)
  const hours = Math.floor(seconds / 3600)
  seconds -= hours * 3600
  const minutes = Math.floor(seconds / 60)
  seconds -= minutes * 60
  if (hours > 0) return `${hours}h ${minutes}m`
  if (minutes > 0) return `${minutes}m ${seconds}s`
  return `${seconds}s`
}

export function formatBytes(bytes: number | null | undefined): string {
  if (!bytes || bytes < 0) return ''
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

/** "3 minutes ago" for recent times, a date otherwise; `now` is passed in by tests. */
export function formatRelativeTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return ''
  const then = new Date(iso)
  if (Number.isNaN(then.getTime())) return ''
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000)
  if (seconds < 45) return 'just now'
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`
  const hours = Math.round(minutes / 60)
  if (hours < 24) return `${hours} hour${hours === 1 ? '' : 's'} ago`
  const days = Math.round(hours / 24)
  if (days < 14) return `${days} day${days === 1 ? '' : 's'} ago`
  return then.toISOString().slice(0, 10)
}

export function formatAbsoluteTime(iso: string | null | undefined): string {
  if (!iso) return ''
  const then = new Date(iso)
  return Number.isNaN(then.getTime())
    ? ''
    : then
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')
        .replace(/Z$/, ' UTC')
}

export function shortRevision(revision: string | null | undefined): string {
  return (revision ?? '').slice(0, 7)
}
