"""``manage.py sweep_audit``: one pass, or a pass every --every seconds until SIGTERM (the Procfile's ``audit``)."""

from __future__ import annotations

import io
import os
import signal
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from estafette.access.models import AuditEntry


class Watched(io.StringIO):
    """Output that tells a waiting thread when a line containing ``awaited`` was written."""

    def __init__(self, awaited: str) -> None:
        super().__init__()
        self.awaited = awaited
        self.seen = threading.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if self.awaited in text:
            self.seen.set()
        return written


def old_and_new_entries() -> AuditEntry:
    old = AuditEntry.objects.create(actor_kind="user", actor="a", action="x", at=timezone.now() - timedelta(days=31))
    AuditEntry.objects.create(actor_kind="user", actor="a", action="y")
    return old


@pytest.mark.django_db
def test_one_pass_deletes_what_is_past_the_retention(settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 30
    old = old_and_new_entries()
    out = io.StringIO()

    call_command("sweep_audit", stdout=out)

    assert out.getvalue().strip() == "sweep_audit: deleted 1 entries older than 30 days"
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["y"] and old.action == "x"


# Each pass starts with close_old_connections, which closes a connection inside a test's transaction: no transaction.
@pytest.mark.django_db(transaction=True)
def test_every_keeps_sweeping_until_sigterm(settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 30
    old_and_new_entries()
    out = Watched("deleted 1 entries")
    previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}

    def stop_once_swept() -> None:
        # the first pass has deleted the old entry: end the loop as a process manager would
        if out.seen.wait(timeout=60):
            os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_once_swept, daemon=True)
    stopper.start()
    try:
        # an hour between passes: only the signal can end this call
        call_command("sweep_audit", every=3600, stdout=out)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    stopper.join(timeout=5)

    lines = out.getvalue().splitlines()
    assert lines == [
        "audit sweeper: a pass every 3600 s until stopped",
        "sweep_audit: deleted 1 entries older than 30 days",
        "audit sweeper stopped after 1 pass(es)",
    ]
    assert AuditEntry.objects.count() == 1


def test_every_refuses_a_period_that_is_not_above_zero() -> None:
    with pytest.raises(CommandError, match="above 0"):
        call_command("sweep_audit", every=0)
