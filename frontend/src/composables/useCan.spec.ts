import { describe, expect, it } from 'vitest'

import { loadSession } from '@/stores/session'
import { installFakeApi } from '@/testing/fakeApi'

import { permissionRefusal, pipelineRefusal, useCan } from './useCan'

// A pipeline of group 1 and organization 9 (a run carries the same two lists).
const pipeline = { groups: [{ id: '1' }], organizations: [{ id: '9' }] }

function caller(roles: string[], groups: string[] = [], organizations: string[] = [], permissions: string[] = []) {
  return { roles, permissions, effectiveGroups: groups, effectiveOrganizations: organizations }
}

describe('pipelineRefusal (the server rule of Principal.may_on_pipeline)', () => {
  it('lets an operator of one of the pipeline groups take every pipeline action', () => {
    const operator = caller(['group.pipelines.operator'], ['1'])
    for (const action of ['ci.builds.cancel', 'ci.releases.create', 'ci.bots.create', 'ci.secrets.encrypt'] as const)
      expect(pipelineRefusal(operator, action, pipeline)).toBeNull()
  })

  it('refuses an operator of another group, saying which role is needed', () => {
    const refusal = pipelineRefusal(caller(['group.pipelines.operator'], ['2']), 'ci.releases.create', pipeline)
    expect(refusal).toMatch(/^You may not release this pipeline: it needs the administrator role/)
    expect(refusal).toMatch(/group\.pipelines\.operator role in one of the pipeline's groups/)
  })

  it("lets an organization operator act on the organization's pipelines", () => {
    expect(pipelineRefusal(caller(['organization.pipelines.operator'], [], ['9']), 'ci.builds.cancel', pipeline)).toBe(
      null,
    )
  })

  it('does not count a group role in an organization, nor an organization role in a group', () => {
    expect(pipelineRefusal(caller(['group.pipelines.operator'], [], ['9']), 'ci.builds.cancel', pipeline)).not.toBe(
      null,
    )
    expect(pipelineRefusal(caller(['organization.pipelines.operator'], ['1']), 'ci.builds.cancel', pipeline)).not.toBe(
      null,
    )
  })

  it('refuses a viewer of the pipeline group', () => {
    expect(pipelineRefusal(caller(['group.pipelines.viewer'], ['1']), 'ci.bots.cancel', pipeline)).toMatch(
      /^You may not cancel this bot run/,
    )
  })

  it('lets an administrator act on a pipeline of no group', () => {
    expect(pipelineRefusal(caller(['administrator']), 'ci.releases.cancel', {})).toBeNull()
  })

  it('refuses everybody else on a pipeline of no group', () => {
    expect(pipelineRefusal(caller(['group.pipelines.operator'], ['1']), 'ci.builds.rebuild', {})).not.toBeNull()
  })

  it('leaves the answer to the server when nobody is known to be logged in', () => {
    expect(pipelineRefusal(null, 'ci.builds.cancel', pipeline)).toBeNull()
  })
})

describe('permissionRefusal', () => {
  it('allows what /api/me lists among the permissions and refuses the rest with the reason', () => {
    const groupAdmin = caller(['group.admin'], [], [], ['rbac.groups.list', 'rbac.groups.create'])
    expect(permissionRefusal(groupAdmin, 'rbac.groups.create')).toBeNull()
    expect(permissionRefusal(groupAdmin, 'rbac.clients.create')).toMatch(
      /rbac\.clients\.create needs the administrator/,
    )
  })
})

describe('useCan', () => {
  it('answers for the user of the session', async () => {
    installFakeApi().on('GET', '/api/me', {
      body: { name: 'Olga', ...caller(['group.pipelines.operator'], ['1'], [], []) },
    })
    await loadSession()
    const can = useCan()
    expect(can.onPipeline('ci.builds.cancel', pipeline)).toBeNull()
    expect(can.onPipeline('ci.builds.cancel', { groups: [{ id: '3' }] })).not.toBeNull()
    expect(can.may('rbac.users.list')).toBe(false)
    expect(can.isAdministrator.value).toBe(false)
  })
})
