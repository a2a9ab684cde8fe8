"""The GitHub forge: what the trigger layer asks of a GitHub repository (``triggers.forges.Forge``), answered by
GitHub's API rather than by git — the server clones nothing to read a push.

``read_push`` takes a push the webhook published (``webhook._push``: clone URL, pipeline, branch, revision,
installation, commits), checks it again (an event on the queue is input too), and reads ``.estafette.yaml`` at the
revision through the contents API with the installation's token. The job clones ``repository.clone_url`` with a
token of its own, fetched when it is dispatched (``clone_credentials``): no token is ever part of an event, a build
or a log. ``report`` sets a run's commit status (``triggers.reports`` decides when).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from builder.contracts import Credential
from integrations.git.identity import RepositoryIdentity
from integrations.github.client import GitHubClient, GitHubError, GitHubNotConfigured, github_client, web_host
from integrations.github.webhook import FORGE, check_url
from integrations.hosted import MANIFEST_PATH, HostedForge, sealed_clone_credential
from triggers.forges import InvalidSource, ReportError, RepositoryName, RunReport

logger = logging.getLogger(__name__)

TOKEN_CREDENTIAL_TYPE = "github-api-token"  # noqa: S105 — the credential type the builder's git-clone reads
STATUS_CONTEXT = "estafette"
# (commit status state, description) by a run's state
_STATES = {
    "pending": ("pending", "running"),
    "succeeded": ("success", "succeeded"),
    "failed": ("failure", "failed"),
    "canceled": ("error", "canceled"),
}


class GitHubForge(HostedForge):
    """Repositories of the GitHub the server is configured for (``ESTAFETTE_GITHUB_API_URL``)."""

    name = FORGE

    def __init__(self, client: GitHubClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> GitHubClient:
        try:
            return self._client or github_client()
        except GitHubNotConfigured as error:
            raise InvalidSource(str(error)) from None

    def hosts(self, repository: RepositoryName) -> bool:
        """A repository on the configured GitHub's host (github.com for api.github.com), while the app is set up."""
        if not settings.GITHUB_APP_ID or not settings.GITHUB_APP_PRIVATE_KEY:
            return False
        return repository.source.casefold() == web_host(settings.GITHUB_API_URL)

    def clone_credentials(self, repository: RepositoryName) -> list[Credential]:
        """A fresh (or cached) installation token, sealed for the pipeline, as the ``github-api-token`` credential the
        builder's git-clone stage reads; none when the app is not installed on the repository (the clone then goes
        without a token). Raises ``GitHubError`` when GitHub cannot answer now (the dispatch is retried)."""
        client = self.client
        try:
            installation = client.repository_installation(repository.owner, repository.name)
            if installation is None:
                logger.info(
                    "the GitHub App is not installed on %s: its job clones without a token", repository.full_name
                )
                return []
            token = client.installation_token(installation)
        except GitHubError as error:
            if error.permanent:
                logger.warning("no GitHub token for a job of %s: %s", repository.full_name, error)
                return []
            raise
        credential = sealed_clone_credential(
            name="github-app", type=TOKEN_CREDENTIAL_TYPE, token=token, repository=repository
        )
        return [credential]

    def report(self, report: RunReport) -> None:
        """The run as a commit status: context ``estafette`` (a release: ``estafette/release/<target>``), the run's page
        as its target URL. Nothing is sent while the app is not installed on the repository."""
        client = self.client
        state, done = _STATES.get(report.state, ("error", report.state))
        what = f"release {report.target}" if report.kind == "release" else report.kind
        context = f"{STATUS_CONTEXT}/release/{report.target}" if report.kind == "release" else STATUS_CONTEXT
        try:
            installation = client.repository_installation(report.repository.owner, report.repository.name)
            if installation is None:
                logger.info(
                    "no commit status on %s: the GitHub App is not installed there", report.repository.full_name
                )
                return
            client.create_status(
                installation_id=installation,
                owner=report.repository.owner,
                repo=report.repository.name,
                sha=report.revision,
                state=state,
                target_url=report.url,
                description=" ".join(part for part in ("Estafette", what, report.version, done) if part),
                context=context,
            )
        except GitHubError as error:
            raise ReportError(str(error), permanent=error.permanent) from None
        logger.info("commit status %s %s on %s@%s", context, state, report.repository.full_name, report.revision)

    def check_clone_url(self, clone_url: str) -> RepositoryIdentity:
        return check_url("repository", clone_url, api_url=self.client.app.api_url)

    def read_manifest(self, payload: Mapping[str, Any], repository: RepositoryName, revision: str) -> bytes | None:
        installation = payload.get("installation")
        if not isinstance(installation, int) or isinstance(installation, bool) or installation <= 0:
            raise InvalidSource("a GitHub push needs its installation's id")
        client = self.client
        client.remember_installation(repository.owner, repository.name, installation)
        return client.file_at(
            installation_id=installation, owner=repository.owner, repo=repository.name, path=MANIFEST_PATH, ref=revision
        )
