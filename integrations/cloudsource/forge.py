"""The Cloud Source forge: what the trigger layer asks of a Google Cloud Source repository (``triggers.forges.Forge``),
answered with git (``integrations.git.intake.push_read``) at ``ESTAFETTE_CLOUDSOURCE_GIT_URL``.

``read_push`` takes a push the webhook published (``webhook._push``), checks it again (an event on the queue is input
too: the clone URL must be the one the pipeline's project and repository make on the configured host) and reads
``.estafette.yaml`` and the commit at the revision. Cloud Source takes no commit status (as in Estafette), and the
server's git reaches it with its own credentials (a credential helper of the server's service account).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from integrations.cloudsource.webhook import FORGE, clone_url, git_host
from integrations.git.forge import GitForge
from integrations.git.intake import push_read
from integrations.git.webhook import InvalidPush
from triggers.forges import InvalidSource, PushedCommit, PushedRevision, RepositoryName


class CloudSourceForge(GitForge):
    """Repositories of ``ESTAFETTE_CLOUDSOURCE_GIT_URL``'s host, while the intake is configured. Like a plain git
    server it takes no status and gives jobs no credential (``GitForge``'s); it reads pushes of its own payload."""

    def hosts(self, repository: RepositoryName) -> bool:
        if not settings.CLOUDSOURCE_AUDIENCE:
            return False
        return repository.source.casefold() == git_host(settings.CLOUDSOURCE_GIT_URL)

    def read_push(self, payload: Mapping[str, Any]) -> PushedRevision:
        if payload.get("forge") != FORGE:
            raise InvalidSource(f"not a Cloud Source push (forge {payload.get('forge')!r})")
        fields = {name: payload.get(name) for name in ("repository", "pipeline", "branch", "revision")}
        if not all(isinstance(value, str) and value for value in fields.values()):
            raise InvalidSource("a Cloud Source push needs repository, pipeline, branch and revision")
        repository, pipeline = str(fields["repository"]), str(fields["pipeline"])
        source, project, repo = [*pipeline.split("/"), "", "", ""][:3]
        git_url = settings.CLOUDSOURCE_GIT_URL
        if source != git_host(git_url) or not project or not repo or repository != clone_url(git_url, project, repo):
            raise InvalidSource(f"pipeline {pipeline!r} is not the Cloud Source repository of {repository!r}")
        try:
            pushed = push_read(
                payload={"repository": repository, "branch": fields["branch"], "revision": fields["revision"]}
            )
        except InvalidPush as error:
            raise InvalidSource(str(error)) from None
        commit = PushedCommit(
            message=pushed.commit.message,
            author_email=pushed.commit.author_email or str(payload.get("author") or ""),
            author_name=pushed.commit.author_name,
        )
        natural = f"{pipeline.casefold()}\n{pushed.push.branch}\n{pushed.push.revision}"
        assert pushed.push.revision is not None
        return PushedRevision(
            event_id=f"cloudsource-push-{hashlib.sha256(natural.encode()).hexdigest()[:40]}",
            repository=RepositoryName(source=source, owner=project, name=repo),
            branch=pushed.push.branch,
            revision=pushed.push.revision,
            repo_url=pushed.repo_url,
            manifest=pushed.manifest,
            commit=commit,
        )
