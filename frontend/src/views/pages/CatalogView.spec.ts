import { screen, within } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import { installFakeApi, page } from '@/testing/fakeApi'
import { makePipeline } from '@/testing/fixtures'
import { renderAt } from '@/testing/render'

import CatalogView from './CatalogView.vue'

describe('CatalogView', () => {
  it("offers Estafette's default key without configured filters, and lists the pipelines of a chosen value", async () => {
    // given
    const api = installFakeApi()
      .on('GET', '/api/catalog/filters', { body: [] })
      .on('GET', '/api/catalog/filtervalues', {
        body: [
          { key: 'type', value: 'library', pipelinesCount: 1 },
          { key: 'type', value: 'service', pipelinesCount: 2 },
        ],
      })
      .on('GET', '/api/pipelines', { body: page([makePipeline({ repoName: 'billing' })]) })
    const user = userEvent.setup()
    await renderAt(CatalogView, '/catalog')
    // when
    const values = await screen.findByRole('navigation', { name: 'Values of type' })
    await user.click(await within(values).findByRole('button', { name: 'service' }))
    // then
    expect(await screen.findByRole('link', { name: 'estafette/billing' })).toBeTruthy()
    expect(api.requestsTo('GET', '/api/catalog/filtervalues')[0]!.query.get('filter[labels]')).toBe('type')
    const query = api.requestsTo('GET', '/api/pipelines')[0]!.query
    expect(query.get('filter[labels]')).toBe('type=service')
  })
})
