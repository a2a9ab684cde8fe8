// Vitest runs without globals, so Testing Library cannot register its own cleanup.
import { cleanup } from '@testing-library/vue'
import { afterEach } from 'vitest'

afterEach(() => {
  cleanup()
})

// jsdom does no layout or scrolling; the router's scrollBehavior calls this on navigation.
window.scrollTo = () => undefined
