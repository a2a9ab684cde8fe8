"""The Bitbucket forge: what the trigger layer asks of a Bitbucket Cloud repository (``triggers.forges.Forge``),
answered by Bitbucket's API — the server clones nothing to read a push.

``read_push`` takes a push the webhook published (``webhook._pushes``: clone URL, pipeline, branch, revision, the
installation's client key, commits), checks it again (an event on the queue is input too), and reads
``.estafette.yaml`` at the revision (``GET /2.0/repositories/{workspace}/{repo}/src/{commit}/.estafette.yaml``) with
the installation's access token. The job clones with a token fetched when it is dispatched (``clone_credentials``:
user ``x-token-auth``); no token is ever part of an event, a build or a log. ``report`` sets a run's build status
(``triggers.reports`` decides when): INPROGRESS, then SUCCESSFUL, FAILED or STOPPED, keyed per build and per release
target so a release's status does not replace its build's.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from builder.contracts import Credential
from integrations.bitbucket.client import BitbucketClient, BitbucketError, Credentials, bitbucket_client
from integrations.bitbucket.models import BitbucketInstallation
from integrations.bitbucket.services import installation_credentials
from integrations.bitbucket.webhook import FORGE, check_url, web_host
from integrations.git.identity import RepositoryIdentity
from integrations.hosted import MANIFEST_PATH, HostedForge, sealed_clone_credential
from triggers.forges import InvalidSource, ReportError, RepositoryName, RunReport

logger = logging.getLogger(__name__)

TOKEN_CREDENTIAL_TYPE = "bitbucket-api-token"  # noqa: S105 — the credential type the builder's git-clone reads
STATUS_KEY = "estafette"
MAX_KEY_LENGTH = 40  # what Bitbucket keeps of a status key
# (build status state, what the description says) by a run's state
_STATES = {
    "pending": ("INPROGRESS", "running"),
    "succeeded": ("SUCCESSFUL", "succeeded"),
    "failed": ("FAILED", "failed"),
    "canceled": ("STOPPED", "canceled"),
}


def status_key(report: RunReport) -> str:
    """``estafette`` for a build; ``estafette-release-<target>`` for a release (hashed when too long)."""
    if report.kind != "release":
        return STATUS_KEY
    key = f"{STATUS_KEY}-release-{report.target}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{STATUS_KEY}-release-{hashlib.sha256(report.target.encode()).hexdigest()[:20]}"


class BitbucketForge(HostedForge):
    """Repositories of the Bitbucket the server is configured for (``ESTAFETTE_BITBUCKET_URL``)."""

    name = FORGE

    def __init__(self, client: BitbucketClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> BitbucketClient:
        return self._client or bitbucket_client()

    def hosts(self, repository: RepositoryName) -> bool:
        """A repository on the configured Bitbucket's host, while the app has an installation in its workspace."""
        if repository.source.casefold() != web_host(self.client.web_url):
            return False
        return self._installation(repository) is not None

    def _installation(self, repository: RepositoryName) -> Credentials | None:
        """The credentials of the app's installation in the repository's workspace (its ``principal``)."""
        installation = BitbucketInstallation.objects.filter(principal_name__iexact=repository.owner).first()
        return installation_credentials(installation.client_key) if installation is not None else None

    def clone_credentials(self, repository: RepositoryName) -> list[Credential]:
        """A fresh (or cached) access token, sealed for the pipeline, as the ``bitbucket-api-token`` credential the
        builder's git-clone stage reads; none when no installation covers the repository. Raises ``BitbucketError``
        when Bitbucket cannot answer now (the dispatch is retried)."""
        credentials = self._installation(repository)
        if credentials is None:
            logger.info("no Bitbucket installation covers %s: its job clones without a token", repository.full_name)
            return []
        try:
            token = self.client.access_token(credentials)
        except BitbucketError as error:
            if error.permanent:
                logger.warning("no Bitbucket token for a job of %s: %s", repository.full_name, error)
                return []
            raise
        credential = sealed_clone_credential(
            name="bitbucket-app", type=TOKEN_CREDENTIAL_TYPE, token=token, repository=repository
        )
        return [credential]

    def report(self, report: RunReport) -> None:
        """The run as a build status on its commit, the run's page as its URL."""
        credentials = self._installation(report.repository)
        if credentials is None:
            logger.info("no build status on %s: no Bitbucket installation covers it", report.repository.full_name)
            return
        state, done = _STATES.get(report.state, ("STOPPED", report.state))
        what = f"release {report.target}" if report.kind == "release" else report.kind
        key = status_key(report)
        try:
            self.client.create_status(
                credentials=credentials,
                workspace=report.repository.owner,
                repo=report.repository.name,
                sha=report.revision,
                state=state,
                key=key,
                name=f"Estafette {what} {report.version}".strip(),
                url=report.url,
                description=" ".join(part for part in ("Estafette", what, report.version, done) if part),
            )
        except BitbucketError as error:
            raise ReportError(str(error), permanent=error.permanent) from None
        logger.info("build status %s %s on %s@%s", key, state, report.repository.full_name, report.revision)

    def check_clone_url(self, clone_url: str) -> RepositoryIdentity:
        return check_url("repository", clone_url, web_url=self.client.web_url)

    def read_manifest(self, payload: Mapping[str, Any], repository: RepositoryName, revision: str) -> bytes | None:
        client_key = payload.get("clientKey")
        credentials = installation_credentials(client_key) if isinstance(client_key, str) and client_key else None
        if credentials is None:
            raise InvalidSource("the push's Bitbucket installation is not known (any more): install the app again")
        return self.client.file_at(
            credentials=credentials,
            workspace=repository.owner,
            repo=repository.name,
            revision=revision,
            path=MANIFEST_PATH,
        )
