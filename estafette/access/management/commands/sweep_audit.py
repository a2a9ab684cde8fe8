"""``manage.py sweep_audit``: delete audit entries older than ``ESTAFETTE_AUDIT_RETENTION_DAYS``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from estafette.access.audit import audit_sweep


class Command(BaseCommand):
    help = "Delete audit entries older than ESTAFETTE_AUDIT_RETENTION_DAYS."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = audit_sweep()
        self.stdout.write(f"sweep_audit: deleted {deleted} entries older than {settings.AUDIT_RETENTION_DAYS} days")
