"""Imported by a ``manage.py consume --import`` subprocess: pause the push consumer at a chosen point.

``ESTAFETTE_TEST_PAUSE=in-transaction`` pauses right after the build was inserted, before the
handler's transaction commits; ``after-commit`` pauses after the commit, before the acknowledgement.
The first process to get there writes ``<ESTAFETTE_TEST_PAUSE_DIR>/<revision>.paused`` and sleeps
(so a test can SIGKILL it); any later delivery sees the file and goes on.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

from django.db import transaction

import triggers.consumers
from builds.models import Build
from triggers.forges import PushedRevision

_create = triggers.consumers.build_create_from_push


def _pause(marker: Path, where: str) -> None:
    marker.write_text(where)
    time.sleep(3600)


def build_create_from_push_pausing(*, pushed: PushedRevision, now: datetime | None = None) -> Build | None:
    build = _create(pushed=pushed, now=now)
    where = os.environ.get("ESTAFETTE_TEST_PAUSE", "")
    marker = Path(os.environ.get("ESTAFETTE_TEST_PAUSE_DIR", "/nonexistent")) / f"{pushed.revision}.paused"
    if where and not marker.exists():
        if where == "after-commit":
            transaction.on_commit(lambda: _pause(marker, where))
        else:
            _pause(marker, where)
    return build


triggers.consumers.build_create_from_push = build_create_from_push_pausing
