import { describe, expect, it } from 'vitest'

import { forgeOf } from './forges'

const REVISION = '6113728f27ae82c7b1a177c8d03f9e96e0adf246'

describe('forgeOf', () => {
  it('names GitHub and links its repository and commits', () => {
    const forge = forgeOf({ source: 'github.com', owner: 'Codertocat', name: 'Hello-World' })

    expect(forge.name).toBe('GitHub')
    expect(forge.repositoryUrl).toBe('https://github.com/Codertocat/Hello-World')
    expect(forge.commitUrl(REVISION)).toBe(`https://github.com/Codertocat/Hello-World/commit/${REVISION}`)
  })

  it('links Bitbucket commits under commits/', () => {
    const forge = forgeOf({ source: 'bitbucket.org', owner: 'acme', name: 'api' })

    expect(forge.name).toBe('Bitbucket')
    expect(forge.commitUrl(REVISION)).toBe(`https://bitbucket.org/acme/api/commits/${REVISION}`)
  })

  it('names a GitHub Enterprise or other git server by its host', () => {
    const forge = forgeOf({ source: 'ghe.acme.example', owner: 'acme', name: 'api' })

    expect(forge.name).toBe('ghe.acme.example')
    expect(forge.commitUrl(REVISION)).toBe(`https://ghe.acme.example/acme/api/commit/${REVISION}`)
  })

  it('links nothing for a local repository', () => {
    const forge = forgeOf({ source: 'local', owner: 'acme', name: 'api' })

    expect(forge.name).toBe('Local repository')
    expect(forge.repositoryUrl).toBeUndefined()
    expect(forge.commitUrl(REVISION)).toBeUndefined()
  })

  it('makes no address of what is not a host or a commit id', () => {
    expect(forgeOf({ source: 'javascript:alert(1)//', owner: 'a', name: 'b' }).commitUrl(REVISION)).toBeUndefined()
    expect(forgeOf({ source: 'github.com', owner: 'a', name: 'b' }).commitUrl('HEAD?x=1')).toBeUndefined()
    expect(forgeOf({ source: 'github.com', owner: '../x', name: 'b?c' }).repositoryUrl).toBe(
      'https://github.com/..%2Fx/b%3Fc',
    )
  })
})
