import { screen, within } from '@testing-library/vue'
import { describe, expect, it } from 'vitest'

import { loadSession } from '@/stores/session'
import { installFakeApi, page } from '@/testing/fakeApi'
import { makePipeline } from '@/testing/fixtures'
import { renderAt } from '@/testing/render'

import HomeView from './HomeView.vue'

describe('HomeView', () => {
  it("lists the pipelines of the user's recent commits and of their releases", async () => {
    // given
    const api = installFakeApi()
      .on('GET', '/api/me', { body: { username: 'ada', name: 'Ada', email: 'ada@example.com' } })
      .on('GET', '/api/pipelines', (request) => ({
        body: page([makePipeline({ repoName: request.query.has('filter[recent-committer]') ? 'billing' : 'shop' })]),
      }))
    await loadSession()
    // when
    await renderAt(HomeView, '/')
    // then
    const committed = screen.getByRole('region', { name: 'Recently committed to' })
    const released = screen.getByRole('region', { name: 'Recently released' })
    expect(await within(committed).findByRole('link', { name: 'estafette/billing' })).toBeTruthy()
    expect(await within(released).findByRole('link', { name: 'estafette/shop' })).toBeTruthy()
    const queries = api.requestsTo('GET', '/api/pipelines').map((request) => request.query)
    expect(queries.map((query) => query.get('filter[recent-committer]'))).toContain('ada@example.com')
    expect(queries.map((query) => query.get('filter[recent-releaser]'))).toContain('ada@example.com')
  })

  it('says why it cannot find anything for an account without an e-mail address, and asks nothing', async () => {
    // given
    const api = installFakeApi().on('GET', '/api/me', { body: { username: 'bot', name: '' } })
    await loadSession()
    // when
    await renderAt(HomeView, '/')
    // then
    expect(screen.getByText(/Your account has no e-mail address/)).toBeTruthy()
    expect(api.requestsTo('GET', '/api/pipelines')).toHaveLength(0)
  })
})
