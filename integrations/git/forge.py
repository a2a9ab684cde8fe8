"""The git forge: what the trigger layer asks of a repository (``triggers.forges.Forge``), answered with git.

Registered by ``IntegrationsConfig.ready``. The git work is ``intake.push_read`` (through the hardened client,
``client.py``, the only module that runs git); naming a pipeline is ``identity.identify_repository``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.git.identity import InvalidRepository, identify_repository
from integrations.git.intake import push_read
from integrations.git.webhook import InvalidPush
from triggers.forges import InvalidSource, PushedCommit, PushedRevision, RepositoryName, RunReport


class GitForge:
    """Any repository git can read: a clone URL, or a path on this machine. It hosts none: a plain git server takes
    no status, and its jobs clone with the URL they are given."""

    def hosts(self, repository: RepositoryName) -> bool:
        return False

    def clone_credentials(self, repository: RepositoryName) -> list[Any]:
        return []

    def report(self, report: RunReport) -> None:
        return None

    def identify(self, location: str) -> RepositoryName:
        try:
            identity = identify_repository(location)
        except InvalidRepository as error:
            raise InvalidSource(str(error)) from None
        return RepositoryName(source=identity.source, owner=identity.owner, name=identity.name)

    def read_push(self, payload: Mapping[str, Any]) -> PushedRevision:
        try:
            pushed = push_read(payload=payload)
        except InvalidPush as error:
            raise InvalidSource(str(error)) from None
        push, commit = pushed.push, pushed.commit
        assert push.revision is not None  # push_read resolves it
        return PushedRevision(
            event_id=pushed.event_id,
            repository=RepositoryName(source=push.identity.source, owner=push.identity.owner, name=push.identity.name),
            branch=push.branch,
            revision=push.revision,
            repo_url=pushed.repo_url,
            manifest=pushed.manifest,
            commit=PushedCommit(
                message=commit.message, author_email=commit.author_email, author_name=commit.author_name
            ),
        )
