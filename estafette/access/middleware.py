"""Records each successful change made through the API in the audit trail (``estafette.access.audit``), from what
``permissions.Authorized`` left on the request: the rule (hence the action) and the principal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from estafette.access.audit import audit_record
from estafette.access.models import ActorKind
from estafette.access.rules import OwnCredential
from estafette.lib.login_throttle import client_address

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


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
