import { screen } from '@testing-library/vue'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'

import { installFakeApi } from '@/testing/fakeApi'
import { renderAt } from '@/testing/render'

import SecretsView from './SecretsView.vue'

const ENVELOPE = 'estafette.secret(bm9uY2U.Y2lwaGVy)'

describe('SecretsView', () => {
  it('encrypts a value for some pipelines, shows the envelope instead of the value and copies it', async () => {
    // given
    const api = installFakeApi().on('POST', '/api/manifest/encrypt', { body: { secret: ENVELOPE } })
    const user = userEvent.setup()
    await renderAt(SecretsView, '/secrets')
    // when
    await user.type(screen.getByLabelText('Value'), 's3cr3t')
    await user.click(screen.getByLabelText(/Base64-encode/))
    await user.type(screen.getByLabelText('Pipelines that may use it'), ' github.com/acme/.* ')
    await user.click(screen.getByRole('button', { name: 'Encrypt' }))
    // then
    expect(((await screen.findByRole('textbox', { name: 'Encrypted secret' })) as HTMLTextAreaElement).value).toBe(
      ENVELOPE,
    )
    expect(api.requestsTo('POST', '/api/manifest/encrypt').map((request) => request.body)).toEqual([
      { value: 's3cr3t', base64: true, pipelineAllowList: 'github.com/acme/.*' },
    ])
    expect((screen.getByLabelText('Value') as HTMLTextAreaElement).value).toBe('')
    // when
    await user.click(screen.getByRole('button', { name: 'Copy' }))
    // then
    expect(await navigator.clipboard.readText()).toBe(ENVELOPE)
    expect(screen.getByRole('status').textContent).toBe('Copied to the clipboard.')
  })

  it('shows why the API refused, and no envelope', async () => {
    // given
    installFakeApi().on('POST', '/api/manifest/encrypt', {
      status: 400,
      body: { code: 'BadRequest', message: 'pipelineAllowList is not a valid regular expression' },
    })
    const user = userEvent.setup()
    await renderAt(SecretsView, '/secrets')
    // when
    await user.type(screen.getByLabelText('Value'), 'x')
    await user.type(screen.getByLabelText('Pipelines that may use it'), '(')
    await user.click(screen.getByRole('button', { name: 'Encrypt' }))
    // then
    expect((await screen.findByRole('alert')).textContent).toBe('pipelineAllowList is not a valid regular expression')
    expect(screen.queryByRole('textbox', { name: 'Encrypted secret' })).toBeNull()
  })
})
