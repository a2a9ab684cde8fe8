"""The kinds of rule an operation of the API is authorized by. The table of which operation has which rule is
``estafette.policy.POLICY`` (the composition root, which knows every route); ``permissions.Authorized`` applies it.

A rule answers None (allowed) or the reason of a refusal, which the caller reads in the 403's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS

from estafette.access import roles
from estafette.access.principal import Principal
from estafette.access.scopes import pipeline_scope


@dataclass(frozen=True)
class Rule:
    action: str  # the permission exercised, as the audit trail names it (ci.builds.cancel)
    audited: bool = True  # a change the audit trail records when it succeeds (reads never are)

    def refusal(self, principal: Principal, request: Any, view: Any) -> str | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Anyone(Rule):
    """No credential needed: logging in, the login providers."""

    def refusal(self, principal: Principal, request: Any, view: Any) -> str | None:
        return None


@dataclass(frozen=True)
class OwnCredential(Rule):
    """The view checks a credential of its own that no user or client holds: the job token of the run in its path
    (builder endpoints) or an intake's shared token (webhooks). Nothing else is accepted there."""

    credential: str = ""

    def refusal(self, principal: Principal, request: Any, view: Any) -> str | None:
        return None


@dataclass(frozen=True)
class SignedIn(Rule):
    """Any signed-in user or API client (reads: lists are then narrowed to what the caller may see). Reads are open to
    anonymous visitors when ``ESTAFETTE_ANONYMOUS_READ=true``."""

    audited: bool = False

    def refusal(self, principal: Principal, request: Any, view: Any) -> str | None:
        if principal.is_authenticated:
            return None
        if request.method in SAFE_METHODS and settings.ANONYMOUS_READ:
            return None
        return "log in"


@dataclass(frozen=True)
class SignedInComputation(SignedIn):
    """A POST that computes an answer and changes nothing (validate or generate a manifest): any signed-in caller, as
    a read. Never for a route that writes."""


@dataclass(frozen=True)
class Permitted(Rule):
    """A permission a role grants everywhere (``rbac.users.list`` by ``user.viewer``…; all by ``administrator``)."""

    def refusal(self, principal: Principal, request: Any, view: Any) -> str | None:
        if principal.may(self.action):
            return None
        return f"{self.action} needs the administrator role{_granting_roles(self.action)}"


@dataclass(frozen=True)
class OnPipeline(Rule):
    """A pipeline permission on the pipeline the path names (``{source}/{owner}/{name}``)."""

    def refusal(self, principal: Principal, request: Any, view: Any) -> str | None:
        kwargs = view.kwargs
        scope = pipeline_scope(kwargs["source"], kwargs["owner"], kwargs["name"])
        if scope is None:
            return None  # no such pipeline: the view answers 404
        return _pipeline_refusal(self.action, principal, scope)


@dataclass(frozen=True)
class OnPipelineInBody(Rule):
    """A pipeline permission on the pipeline a body field names by its full name (``source/owner/name``): encrypting
    a secret for one pipeline. Any other value (a regular expression for several pipelines, or none) is an
    administrator's."""

    field: str = ""

    def refusal(self, principal: Principal, request: Any, view: Any) -> str | None:
        if principal.is_administrator:
            return None
        data = request.data if isinstance(request.data, dict) else {}
        named = data.get(self.field)
        parts = named.strip().split("/") if isinstance(named, str) else []
        scope = pipeline_scope(*parts) if len(parts) == 3 and all(parts) else None
        if scope is None:
            return (
                f"{self.action} for anything but one pipeline ({self.field} = its source/owner/name) "
                "needs the administrator role"
            )
        return _pipeline_refusal(self.action, principal, scope)


def _pipeline_refusal(action: str, principal: Any, scope: Any) -> str | None:
    if principal.may_on_pipeline(action, group_ids=scope.group_ids, organization_ids=scope.organization_ids):
        return None
    needed = roles.GROUP_PIPELINES_OPERATOR if action in roles.PIPELINE_OPERATE else roles.GROUP_PIPELINES_VIEWER
    organization_role = needed.replace("group.", "organization.", 1)
    return (
        f"{action} on {scope.full_name} needs the administrator role, the {needed} role in one of its groups or "
        f"the {organization_role} role in one of its organizations"
    )


def _granting_roles(permission: str) -> str:
    granting = sorted(role for role, allowed in roles.GLOBAL_PERMISSIONS.items() if permission in allowed)
    return f" or one of {', '.join(granting)}" if granting else ""
