// Route helpers that views and the router share (kept apart from router/ to avoid import cycles).

export const RUN_TABS = ['logs', 'manifest', 'triggered-by'] as const
export type RunTab = (typeof RUN_TABS)[number]

export function runTabOf(value: unknown): RunTab {
  return (RUN_TABS as readonly unknown[]).includes(value) ? (value as RunTab) : 'logs'
}

/** Only a path inside this app may be a return target after logging in (no open redirects). */
export function safeReturnPath(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) {
    return '/pipelines'
  }
  return value.startsWith('/login') ? '/pipelines' : value
}
