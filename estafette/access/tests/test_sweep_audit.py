"""``manage.py sweep_audit``: one pass, or the worker task that sweeps every --every seconds until stopped."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from estafette.access.audit import audit_sweeper_task
from estafette.access.models import AuditEntry
from estafette.queue.process import registered_tasks


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


# Each pass closes its connection (close_old_connections), which a test's transaction cannot survive: no transaction.
@pytest.mark.django_db(transaction=True)
def test_the_worker_task_keeps_sweeping_until_stopped(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.AUDIT_RETENTION_DAYS = 30
    old_and_new_entries()
    caplog.set_level(logging.INFO, logger="estafette")

    async def sweep_until_swept() -> int:
        stop = asyncio.Event()
        # an hour between passes: only the stop can end the task once its first pass is done
        running = asyncio.create_task(audit_sweeper_task(3600)(stop))
        while await asyncio.to_thread(AuditEntry.objects.filter(action="x").exists):
            await asyncio.sleep(0.02)
        stop.set()
        return await asyncio.wait_for(running, timeout=60)

    passes = asyncio.run(sweep_until_swept())

    assert passes == 1
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["y"]
    assert "sweep_audit: deleted 1 entries older than 30 days" in caplog.messages
    assert "audit sweeper stopped after 1 pass(es)" in caplog.messages


def test_the_worker_can_run_the_audit_sweeper_beside_its_consumers() -> None:
    assert "audit" in registered_tasks()


def test_every_refuses_a_period_that_is_not_above_zero() -> None:
    with pytest.raises(CommandError, match="above 0"):
        call_command("sweep_audit", every=0)
