"""Where a builder reports: the versioned callback URLs of one run (status events, log batches and the end).

``callback_urls`` is what the job dispatcher puts into ``BuilderConfig.ciServer``; ``runs/urls.py`` routes
the same paths to the builder endpoints. Run ids in the paths are the run's primary key.
"""

from __future__ import annotations

from estafette.lib.errors import NotFound
from runs.registry import run_kind

CALLBACK_PREFIX = "api/builder/v1"


def callback_urls(*, kind: str, run_id: int, base_url: str) -> tuple[str, str]:
    """``(statusUrl, logsUrl)`` of run ``run_id`` of ``kind`` (a registered run kind) under ``base_url``.

    ``base_url`` is how a job reaches the API (``ESTAFETTE_BASE_URL`` or an in-cluster service URL); a trailing
    slash is ignored. Raises ``ValueError`` for an unknown kind or a run id that is not a positive integer.
    """
    try:
        run_kind(kind)
    except NotFound as error:
        raise ValueError(error.message) from None
    if isinstance(run_id, bool) or not isinstance(run_id, int) or run_id < 1:
        raise ValueError(f"run id must be a positive integer, got {run_id!r}")
    root = f"{base_url.rstrip('/')}/{CALLBACK_PREFIX}/{kind}/{run_id}"
    return f"{root}/status", f"{root}/logs"


def callback_end_url(*, kind: str, run_id: int, base_url: str) -> str:
    """The ``endUrl`` of run ``run_id`` of ``kind``: its last log batch and final status in one request. Raises as
    ``callback_urls`` does."""
    status_url, _ = callback_urls(kind=kind, run_id=run_id, base_url=base_url)
    return status_url.removesuffix("/status") + "/end"
