"""The one place every request of the API is authorized: ``Authorized``, DRF's default permission.

It looks up the rule of the request's route and method in the policy table (``settings.ACCESS_POLICY``, the
composition root's ``estafette.policy.POLICY``) and applies it. A route or method the table does not name is refused
(a new route without a rule is closed, and the matrix test, which walks the OpenAPI document, fails on it). The rule
and the principal are left on the request for the audit trail (``estafette.access.middleware.AuditMiddleware``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission

from estafette.access.principal import Principal, principal_of
from estafette.access.rules import Rule

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

Policy = dict[tuple[str, str], Rule]


@cache
def policy() -> Policy:
    return import_string(settings.ACCESS_POLICY)


def rule_for(url_name: str | None, method: str) -> Rule | None:
    method = {"HEAD": "GET", "OPTIONS": "GET"}.get(method, method)
    return policy().get((url_name or "", method))


@dataclass(frozen=True)
class _Asked:
    """What a rule reads of a request (its method and body) and of its view (the path's parameters)."""

    method: str
    data: Mapping[str, Any] = field(default_factory=dict)
    kwargs: Mapping[str, str] = field(default_factory=dict)


def refusal_for(
    principal: Principal,
    *,
    url_name: str,
    method: str,
    path: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
) -> str | None:
    """Apply the policy's rule of an API route to ``principal`` asking for the same thing another way (a chat
    command that does what the route does): the same table, the same rule, the same reasons. None: allowed; else
    why not. ``path``: the route's parameters (``source``, ``owner``, ``name``); ``data``: its body."""
    rule = rule_for(url_name, method)
    if rule is None:
        return "this operation has no authorization rule: it is closed until one is added"
    asked = _Asked(method=method, data=dict(data or {}), kwargs=dict(path or {}))
    return rule.refusal(principal, asked, asked)


class Authorized(BasePermission):
    message = "You may not do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        match = request._request.resolver_match
        rule = rule_for(match.url_name if match else None, request.method or "")
        if rule is None:
            self.message = "this operation has no authorization rule: it is closed until one is added"
            return False
        principal = principal_of(request)
        request._request.access_rule = rule
        refusal = rule.refusal(principal, request, view)
        if refusal is None:
            return True
        # Anonymous callers get 401 from DRF (an authenticator offers a challenge); signed-in ones 403 with why.
        self.message = refusal
        return False
