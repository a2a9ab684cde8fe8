"""Who is asking: a user, an API client or nobody, with the roles and memberships that decide what they may do.

Roles are inherited as in Estafette: a user holds their own roles, their groups' and their organizations' roles, and
belongs to their own organizations and their groups' organizations. ``administrator`` also comes from being a Django
superuser or staff member (the break-glass local administrators) or from the configured ``auth.administrators``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from estafette.access import roles as role_names
from estafette.access.models import Account, ActorKind, Client

CLIENT_EMAIL_DOMAIN = "client.estafette.io"  # Estafette's address of a client: <name>@client.estafette.io


@dataclass(frozen=True)
class Principal:
    kind: ActorKind
    name: str  # a user's email (or username), a client's id; empty for anonymous
    roles: frozenset[str] = frozenset()
    group_ids: frozenset[int] = frozenset()
    organization_ids: frozenset[int] = frozenset()

    @property
    def is_authenticated(self) -> bool:
        return self.kind != ActorKind.ANONYMOUS

    @property
    def is_administrator(self) -> bool:
        return role_names.ADMINISTRATOR in self.roles

    def may(self, permission: str) -> bool:
        return permission in role_names.global_permissions(self.roles)

    def may_on_pipeline(self, permission: str, *, group_ids: frozenset[int], organization_ids: frozenset[int]) -> bool:
        """Whether a *.pipelines.* role (or administrator) allows ``permission`` on a pipeline of these groups and
        organizations: an organization role counts in the pipeline's organizations, a group role in its groups."""
        if self.is_administrator:
            return True
        if permission in role_names.PIPELINE_OPERATE:
            group_role, organization_role = (
                role_names.GROUP_PIPELINES_OPERATOR,
                role_names.ORGANIZATION_PIPELINES_OPERATOR,
            )
            by_group = group_role in self.roles and bool(self.group_ids & group_ids)
            by_organization = organization_role in self.roles and bool(self.organization_ids & organization_ids)
            return by_group or by_organization
        if permission in role_names.PIPELINE_VIEW:
            viewer = {
                role_names.GROUP_PIPELINES_VIEWER,
                role_names.GROUP_PIPELINES_OPERATOR,
                role_names.ORGANIZATION_PIPELINES_VIEWER,
                role_names.ORGANIZATION_PIPELINES_OPERATOR,
            }
            return bool(viewer & self.roles) and bool(
                (self.group_ids & group_ids) or (self.organization_ids & organization_ids)
            )
        return False


ANONYMOUS = Principal(kind=ActorKind.ANONYMOUS, name="")


def configured_administrators() -> frozenset[str]:
    """``auth.administrators`` of the server configuration (emails, compared ignoring case)."""
    return frozenset(email.lower() for email in getattr(settings, "ACCESS_ADMINISTRATORS", ()))


def user_principal(user: Any) -> Principal:
    """The principal of a Django user: own, group and organization roles; own and group organizations."""
    account = Account.objects.filter(user=user).prefetch_related("groups__organizations", "organizations").first()
    held: set[str] = set()
    group_ids: set[int] = set()
    organization_ids: set[int] = set()
    if account is not None:
        held.update(account.roles)
        for organization in account.organizations.all():
            if organization.active:
                organization_ids.add(organization.pk)
                held.update(organization.roles)
        for group in account.groups.all():
            if not group.active:
                continue
            group_ids.add(group.pk)
            held.update(group.roles)
            for organization in group.organizations.all():
                if organization.active:
                    organization_ids.add(organization.pk)
                    held.update(organization.roles)
    email = (user.email or "").lower()
    if user.is_superuser or user.is_staff or (email and email in configured_administrators()):
        held.add(role_names.ADMINISTRATOR)
    return Principal(
        kind=ActorKind.USER,
        name=user.email or user.get_username(),
        roles=frozenset(held),
        group_ids=frozenset(group_ids),
        organization_ids=frozenset(organization_ids),
    )


def client_principal(client: Client) -> Principal:
    return Principal(
        kind=ActorKind.CLIENT,
        name=client.client_id,
        roles=frozenset(client.roles),
        organization_ids=frozenset(o.pk for o in client.organizations.all() if o.active),
    )


class ClientUser:
    """``request.user`` for a request made with an API client's token: enough of a user for the views (an email for
    the runs it starts, ``is_authenticated``), and never a Django user, so no session or admin page accepts it."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, client: Client) -> None:
        self.client = client
        self.email = f"{client.name}@{CLIENT_EMAIL_DOMAIN}"
        self.username = self.email

    def get_username(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.client.name

    def __str__(self) -> str:
        return self.email


def principal_of(request: Any) -> Principal:
    """The principal of a DRF request, worked out once per request."""
    django_request = getattr(request, "_request", request)
    cached = getattr(django_request, "access_principal", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    if isinstance(user, ClientUser):
        principal = client_principal(user.client)
    elif user is not None and user.is_authenticated and user.is_active:
        principal = user_principal(user)
    else:
        principal = ANONYMOUS
    django_request.access_principal = principal
    return principal
