"""The GitHub forge: what the trigger layer asks of a GitHub repository (``triggers.forges.Forge``), answered by
GitHub's API rather than by git — the server clones nothing to read a push.

``read_push`` takes a push the webhook published (``webhook._push``: clone URL, pipeline, branch, revision,
installation, commits), checks it again (an event on the queue is input too), and reads ``.estafette.yaml`` at the
revision through the contents API with the installation's token. The job clones ``repository.clone_url`` with a
token of its own, fetched when it is dispatched (``clone_credentials``): no token is ever part of an event, a build
or a log. ``report`` sets a run's commit status (``triggers.reports`` decides when).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from builder.contracts import Credential
from estafette.lib.crypt import secret_encrypt
from integrations.git.client import without_credentials
from integrations.git.identity import InvalidRepository, identify_repository
from integrations.git.webhook import InvalidPush, validate_branch
from integrations.github.client import GitHubClient, GitHubError, GitHubNotConfigured, github_client, web_host
from integrations.github.webhook import FORGE, InvalidDelivery, check_url
from triggers.forges import InvalidSource, PushedCommit, PushedRevision, ReportError, RepositoryName, RunReport

logger = logging.getLogger(__name__)

MANIFEST_PATH = ".estafette.yaml"
TOKEN_CREDENTIAL_TYPE = "github-api-token"  # noqa: S105 — the credential type the builder's git-clone reads
STATUS_CONTEXT = "estafette"
# (commit status state, description) by a run's state
_STATES = {
    "pending": ("pending", "running"),
    "succeeded": ("success", "succeeded"),
    "failed": ("failure", "failed"),
    "canceled": ("error", "canceled"),
}


class GitHubForge:
    """Repositories of the GitHub the server is configured for (``ESTAFETTE_GITHUB_API_URL``)."""

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
        # Sealed like a manifest's secret, for this pipeline only: dispatch re-keys it for the job (the configuration a
        # runner writes down holds no usable token without the job's own key) and the builder opens and masks it.
        sealed = secret_encrypt(value=token, allow_list=re.escape(repository.full_name))
        return [Credential(name="github-app", type=TOKEN_CREDENTIAL_TYPE, additional_properties={"token": sealed})]

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

    def identify(self, location: str) -> RepositoryName:
        try:
            identity = identify_repository(location)
        except InvalidRepository as error:
            raise InvalidSource(str(error)) from None
        return RepositoryName(source=identity.source, owner=identity.owner, name=identity.name)

    def read_push(self, payload: Mapping[str, Any]) -> PushedRevision:
        client = self.client
        if payload.get("forge") != FORGE:
            raise InvalidSource(f"not a GitHub push (forge {payload.get('forge')!r})")
        fields = {name: payload.get(name) for name in ("repository", "pipeline", "branch", "revision")}
        if not all(isinstance(value, str) and value for value in fields.values()):
            raise InvalidSource("a GitHub push needs repository, pipeline, branch and revision")
        installation = payload.get("installation")
        if not isinstance(installation, int) or isinstance(installation, bool) or installation <= 0:
            raise InvalidSource("a GitHub push needs its installation's id")
        clone_url, pipeline, branch, revision = (str(value) for value in fields.values())
        try:
            branch = validate_branch(branch)
        except InvalidPush as error:
            raise InvalidSource(str(error)) from None
        try:
            identity = check_url("repository", clone_url, api_url=client.app.api_url)
        except InvalidDelivery as error:
            raise InvalidSource(str(error)) from None
        source, owner, name = [*pipeline.split("/"), "", "", ""][:3]
        if (source, owner.casefold(), name.casefold()) != (identity.source, identity.owner, identity.name):
            raise InvalidSource(f"pipeline {pipeline!r} is not the repository of {clone_url!r}")
        client.remember_installation(owner, name, installation)
        try:
            manifest = client.file_at(
                installation_id=installation, owner=owner, repo=name, path=MANIFEST_PATH, ref=revision
            )
        except GitHubError as error:
            if error.permanent:
                raise InvalidSource(str(error)) from None
            raise
        commits = tuple(_commit(item) for item in payload.get("commits") or () if isinstance(item, Mapping))
        natural = f"{pipeline.casefold()}\n{branch}\n{revision}"
        return PushedRevision(
            event_id=f"github-push-{hashlib.sha256(natural.encode()).hexdigest()[:40]}",
            repository=RepositoryName(source=source, owner=owner, name=name),
            branch=branch,
            revision=revision,
            repo_url=without_credentials(clone_url),
            manifest=manifest,
            commit=commits[0] if commits else PushedCommit(message="", author_email="", author_name=""),
            commits=commits,
        )


def _commit(item: Mapping[str, Any]) -> PushedCommit:
    author = item.get("author") if isinstance(item.get("author"), Mapping) else {}
    assert isinstance(author, Mapping)
    return PushedCommit(
        message=str(item.get("message") or ""),
        author_email=str(author.get("email") or ""),
        author_name=str(author.get("name") or ""),
        author_username=str(author.get("username") or ""),
    )
