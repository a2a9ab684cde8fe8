"""The one place every request of the API is authorized: ``Authorized``, DRF's default permission.

It looks up the rule of the request's route and method in the policy table (``settings.ACCESS_POLICY``, the
composition root's ``estafette.policy.POLICY``) and applies it. A route or method the table does not name is refused
(a new route without a rule is closed, and the matrix test, which walks the OpenAPI document, fails on it). The rule
and the principal are left on the request for the audit trail (``estafette.access.middleware.AuditMiddleware``).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission

from estafette.access.principal import principal_of
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
