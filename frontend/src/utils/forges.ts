// Where a pipeline's code lives, from its source (the host its repository is on): the forge's name and the addresses
// of the repository and of a commit there. The source is the first part of the pipeline's name (`github.com`,
// `bitbucket.org`, a GitHub Enterprise host, `local` for a repository on the server's machine).

export type Forge = {
  /** What the UI calls it: "GitHub", "Bitbucket", … or the host of any other git server. */
  name: string
  /** The repository's page; undefined where there is none to link to (a local repository). */
  repositoryUrl?: string
  /** A commit's page there; undefined where there is none. */
  commitUrl(revision: string): string | undefined
}

type PipelineName = { source: string; owner: string; name: string }

const CLOUD_SOURCE = 'source.developers.google.com'
// Hosts a UI address can be made from; anything else (a path, `local`) is not linked.
const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$/i
const REVISION = /^[0-9a-f]{4,64}$/i

const segment = encodeURIComponent

export function forgeOf(pipeline: PipelineName): Forge {
  const { source, owner, name } = pipeline
  const host = source.toLowerCase()
  if (host === 'local' || !HOST.test(host) || !host.includes('.')) {
    return { name: host === 'local' ? 'Local repository' : source, commitUrl: () => undefined }
  }
  const repository = `https://${host}/${segment(owner)}/${segment(name)}`
  const commit = (path: (revision: string) => string) => (revision: string) =>
    REVISION.test(revision) ? path(revision) : undefined
  if (host === 'bitbucket.org') {
    return { name: 'Bitbucket', repositoryUrl: repository, commitUrl: commit((r) => `${repository}/commits/${r}`) }
  }
  if (host === CLOUD_SOURCE) {
    const browse = `https://source.cloud.google.com/${segment(owner)}/${segment(name)}`
    return { name: 'Cloud Source Repositories', repositoryUrl: browse, commitUrl: commit((r) => `${browse}/+/${r}`) }
  }
  // GitHub, GitHub Enterprise and most git servers' web pages (Gitea, GitLab) show a commit at …/commit/<id>.
  return {
    name: host === 'github.com' ? 'GitHub' : host,
    repositoryUrl: repository,
    commitUrl: commit((r) => `${repository}/commit/${r}`),
  }
}
