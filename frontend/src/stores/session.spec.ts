import { describe, expect, it } from 'vitest'

import { installFakeApi } from '@/testing/fakeApi'

import { loadSession, operateRefusal } from './session'

async function loggedInAs(me: object): Promise<void> {
  installFakeApi().on('GET', '/api/me', { body: me })
  await loadSession()
}

describe('operateRefusal', () => {
  const pipeline = { groups: [{ id: '1' }], organizations: [{ id: '9' }] }

  it('lets an operator of one of the pipeline groups operate it', async () => {
    await loggedInAs({ roles: ['group.pipelines.operator'], groups: [{ id: '1', name: 'a' }], organizations: [] })
    expect(operateRefusal(pipeline)).toBeNull()
  })

  it('says why an operator of another group may not', async () => {
    await loggedInAs({ roles: ['group.pipelines.operator'], groups: [{ id: '2', name: 'b' }], organizations: [] })
    expect(operateRefusal(pipeline)).toMatch(/operator role in one of this pipeline's groups/)
  })

  it('lets an administrator operate anything', async () => {
    await loggedInAs({ roles: ['administrator'], groups: [], organizations: [] })
    expect(operateRefusal({})).toBeNull()
  })
})
