// Renders a component inside the real routes, on a memory history, as the app would.

import { render, type RenderResult } from '@testing-library/vue'
import type { Component } from 'vue'
import { createMemoryHistory, type Router } from 'vue-router'

import { makeRouter } from '@/router'

export async function renderAt(
  component: Component,
  path: string,
  options: { beforeNavigation?: (router: Router) => void } = {},
): Promise<RenderResult & { router: Router }> {
  const router = makeRouter(createMemoryHistory())
  options.beforeNavigation?.(router)
  await router.push(path)
  await router.isReady()
  const result = render(component, { global: { plugins: [router] } })
  return { ...result, router }
}
