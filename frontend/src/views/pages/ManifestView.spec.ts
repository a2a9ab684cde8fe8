import { screen, within } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import { installFakeApi } from '@/testing/fakeApi'
import { renderAt } from '@/testing/render'

import ManifestView from './ManifestView.vue'

function fakeManifestApi() {
  return installFakeApi()
    .on('GET', '/api/manifest/templates', {
      body: {
        templates: [
          { template: 'golang', placeholders: ['Application'] },
          { template: 'python', placeholders: ['Application', 'Team'] },
        ],
      },
    })
    .on('POST', '/api/manifest/generate', (request) => {
      const { placeholders } = request.body as { placeholders: Record<string, string> }
      return { body: { manifest: `labels:\n  app: ${placeholders.Application}\n  team: ${placeholders.Team}\n` } }
    })
    .on('POST', '/api/manifest/validate', (request) => {
      const { manifest } = request.body as { manifest: string }
      return manifest.includes('stages: {}')
        ? {
            body: {
              status: 'failed',
              errors: '.estafette.yaml:3:9: The manifest should define 1 or more stages\n',
            },
          }
        : { body: { status: 'succeeded', errors: '' } }
    })
}

describe('ManifestView', () => {
  it("generates a manifest from the chosen template's placeholders and validates it", async () => {
    // given
    const api = fakeManifestApi()
    const user = userEvent.setup()
    await renderAt(ManifestView, '/manifest')
    // when
    await user.selectOptions(await screen.findByLabelText('Template'), 'python')
    await user.type(screen.getByLabelText('Application'), 'billing')
    await user.type(screen.getByLabelText('Team'), 'payments')
    await user.click(screen.getByRole('button', { name: 'Generate' }))
    // then
    const editor = screen.getByLabelText('.estafette.yaml') as HTMLTextAreaElement
    await expect.poll(() => editor.value).toBe('labels:\n  app: billing\n  team: payments\n')
    expect(api.requestsTo('POST', '/api/manifest/generate')[0]!.body).toEqual({
      template: 'python',
      placeholders: { Application: 'billing', Team: 'payments' },
    })
    // when
    await user.click(screen.getByRole('button', { name: 'Validate' }))
    // then
    expect((await screen.findByRole('status')).textContent).toBe('The manifest is valid.')
  })

  it('lists the errors of an invalid manifest, and forgets them once it is edited', async () => {
    // given
    fakeManifestApi()
    const user = userEvent.setup()
    await renderAt(ManifestView, '/manifest')
    const editor = screen.getByLabelText('.estafette.yaml')
    // when
    await user.type(editor, 'stages: {{}')
    await user.click(screen.getByRole('button', { name: 'Validate' }))
    // then
    const status = await screen.findByRole('status')
    expect(
      within(status)
        .getAllByRole('listitem')
        .map((item) => item.textContent),
    ).toEqual(['.estafette.yaml:3:9: The manifest should define 1 or more stages'])
    // when
    await user.type(editor, '\n')
    // then
    expect(screen.queryByRole('status')).toBeNull()
  })
})
