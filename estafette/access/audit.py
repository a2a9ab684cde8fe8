"""The audit trail: one row per change, written in one place.

Changes made through the API are recorded by ``AuditMiddleware`` from what ``permissions.Authorized`` left on the
request (the rule, hence the action, and the principal) once the view has answered with success, so no view records
anything itself. Changes that do not come through the API (a trigger starting a run) call ``audit_record``.
Entries are kept ``ESTAFETTE_AUDIT_RETENTION_DAYS`` days; ``audit_sweep`` (``manage.py sweep_audit``) removes older
ones.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from estafette.access.models import ActorKind, AuditEntry
from estafette.access.rules import OwnCredential
from estafette.lib.login_throttle import client_address

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


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


def _object_of(request: HttpRequest, response: HttpResponse) -> tuple[str, str]:
    """What the change was made to: the route's name and the path's parameters, or the created object's id."""
    match = request.resolver_match
    object_type = match.url_name or "" if match else ""
    parts = [str(value) for value in (match.kwargs.values() if match else ())]
    data = getattr(response, "data", None)
    if isinstance(data, dict) and data.get("id") is not None and str(data["id"]) not in parts:
        parts.append(str(data["id"]))
    return object_type, "/".join(parts)


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        rule = getattr(request, "access_rule", None)
        if rule is None or not rule.audited or request.method in SAFE or response.status_code >= 400:
            return response
        principal: Any = request.access_principal  # type: ignore[attr-defined]
        if principal.is_authenticated:
            actor_kind, actor = principal.kind, principal.name
        elif isinstance(rule, OwnCredential):
            actor_kind, actor = ActorKind.TRIGGER, rule.credential
        else:
            actor_kind, actor = ActorKind.ANONYMOUS, getattr(request, "access_actor", "") or ""
        object_type, object_id = _object_of(request, response)
        audit_record(
            actor_kind=actor_kind,
            actor=actor,
            action=rule.action,
            object_type=object_type,
            object_id=object_id,
            method=request.method or "",
            path=request.path,
            address=client_address(request),
            status=response.status_code,
        )
        return response
