"""The audit trail: one row per change, written in one place.

Changes made through the API are recorded by ``middleware.AuditMiddleware`` from what ``permissions.Authorized``
left on the request (the rule, hence the action, and the principal) once the view has answered with success, so no
view records anything itself. Changes that do not come through the API (a trigger starting a run) call ``audit_record``.
Entries are kept ``ESTAFETTE_AUDIT_RETENTION_DAYS`` days; ``audit_sweep`` (``manage.py sweep_audit``) removes older
ones.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from estafette.access.models import ActorKind, AuditEntry
from estafette.queue.process import Task, periodic_task

logger = logging.getLogger(__name__)


def audit_record(
    *,
    actor_kind: ActorKind,
    actor: str,
    action: str,
    object_type: str = "",
    object_id: str = "",
    method: str = "",
    path: str = "",
    address: str | None = None,
    status: int | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor_kind=actor_kind,
        actor=actor[:256],
        action=action[:64],
        object_type=object_type[:64],
        object_id=object_id[:512],
        method=method,
        path=path[:1024],
        address=address,
        status=status,
    )


def audit_sweep(*, now: datetime | None = None) -> int:
    """Delete the entries older than the retention; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
    return deleted


def audit_sweeper_task(every: float | None = None) -> Task:
    """The audit sweep as a worker task (``estafette.queue.process``, ``consume --with audit`` under ``make run``): a
    pass every ``every`` seconds (default ``AUDIT_SWEEP_INTERVAL_SECONDS``) until stopped."""
    interval = float(settings.AUDIT_SWEEP_INTERVAL_SECONDS if every is None else every)

    def report(deleted: int) -> None:
        if deleted:
            logger.info("sweep_audit: deleted %d entries older than %d days", deleted, settings.AUDIT_RETENTION_DAYS)

    return periodic_task(what="audit sweeper", every=interval, run_pass=audit_sweep, report=report)
