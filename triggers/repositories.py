"""What happens to a repository on its forge happens to its pipeline: renamed → renamed (its builds and releases go with
it, they belong to the pipeline row), archived or deleted → archived, unarchived → back in the lists.

A forge's intake (``integrations/github``; Bitbucket's ``repo:updated``/``repo:deleted`` alike) publishes a
``triggers.forges.RepositoryChange`` on ``triggers.forges.REPOSITORY_EVENTS``; the consumer
(``triggers.consumers.RepositoryChangeConsumer``) applies it with ``repository_change_apply``. Applying one twice
changes nothing the second time.
"""

from __future__ import annotations

import logging

from estafette.lib.errors import Conflict
from pipelines.models import Pipeline
from pipelines.services import pipeline_archive, pipeline_refresh_read_model, pipeline_rename
from triggers.forges import RepositoryChange

logger = logging.getLogger(__name__)


def _split(full_name: str) -> tuple[str, str, str]:
    source, owner, name = full_name.split("/")
    return source, owner, name


def _pipeline_named(full_name: str) -> Pipeline | None:
    source, owner, name = _split(full_name)
    return Pipeline.objects.filter(repo_source__iexact=source, repo_owner__iexact=owner, repo_name__iexact=name).first()


def repository_change_apply(*, change: RepositoryChange) -> Pipeline | None:
    """Apply ``change`` to the repository's pipeline; the pipeline, or None when the repository has none (it never
    built: nothing to do). A rename onto the name of another pipeline is refused with a log line (both keep their
    history)."""
    if change.change == "renamed":
        pipeline = _pipeline_named(change.previous)
        if pipeline is None:
            logger.info("repository %s renamed to %s: it has no pipeline", change.previous, change.repository)
            return None
        source, owner, name = _split(change.repository)
        try:
            pipeline_rename(pipeline=pipeline, repo_source=source, repo_owner=owner, repo_name=name)
        except Conflict as error:
            logger.warning("repository %s renamed to %s: %s", change.previous, change.repository, error.message)
            return pipeline
        # The read model names the pipeline in its triggers (``self`` resolved): computed again under the new name.
        pipeline_refresh_read_model(pipeline=pipeline)
        logger.info("pipeline %s renamed to %s", change.previous, change.repository)
        return pipeline
    pipeline = _pipeline_named(change.repository)
    if pipeline is None:
        logger.info("repository %s %s: it has no pipeline", change.repository, change.change)
        return None
    if pipeline_archive(pipeline=pipeline, archived=change.change == "archived"):
        logger.info("pipeline %s %s with its repository", pipeline.full_name, change.change)
    return pipeline
