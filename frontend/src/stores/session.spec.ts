import { describe, expect, it } from 'vitest'

import { installFakeApi } from '@/testing/fakeApi'

import { loadSession, useSession } from './session'

describe('loadSession', () => {
  it('keeps who /api/me says is logged in', async () => {
    installFakeApi().on('GET', '/api/me', { body: { name: 'Olga', roles: ['administrator'] } })
    await loadSession()
    expect(useSession().state.user?.name).toBe('Olga')
  })

  it('takes a 401 to mean nobody', async () => {
    installFakeApi().on('GET', '/api/me', { status: 401, body: { code: 'unauthorized', message: 'log in' } })
    await loadSession()
    expect(useSession().state.user).toBeNull()
    expect(useSession().state.checked).toBe(true)
  })
})
