"""Identity and access imported from another Estafette installation (``manage.py import_estafette``): its
organizations, groups, users (with their identities at login providers) and API clients, from the JSON Estafette keeps
of each (``contracts.Organization``, ``Group``, ``User``, ``Client``).

Each is matched by its natural key (a name; a user by email; a client by its client id), so an import run again
updates what changed and adds nothing twice. A client keeps its secret: only its digest is stored, so the same
id and secret log in here as they did there. Roles this project does not know are left out (and reported).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from estafette.access.models import Account, Client, Group, Identity, Organization, secret_digest
from estafette.access.roles import ROLES
from estafette.lib.db import retry_on_serialization_failure


def _names(items: Any) -> list[str]:
    return sorted({str(item["name"]) for item in items or [] if isinstance(item, Mapping) and item.get("name")})


def _roles(roles: Any, dropped: set[str]) -> list[str]:
    given = {str(role) for role in roles or []}
    dropped |= given - set(ROLES)
    return sorted(given & set(ROLES))


def _outcome(created: bool, changed: bool) -> str:
    return "created" if created else "updated" if changed else "unchanged"


def _set_fields(instance: Any, values: Mapping[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def _set_many(manager: Any, wanted: Iterable[Any]) -> bool:
    wanted_ids = {item.pk for item in wanted}
    if set(manager.values_list("pk", flat=True)) == wanted_ids:
        return False
    manager.set(list(wanted_ids))
    return True


@retry_on_serialization_failure
@transaction.atomic
def organization_import(*, data: Mapping[str, Any], active: bool, dropped_roles: set[str]) -> str:
    """One Estafette organization; returns "created", "updated" or "unchanged"."""
    organization, created = Organization.objects.get_or_create(name=str(data["name"]))
    changed = _set_fields(organization, {"roles": _roles(data.get("roles"), dropped_roles), "active": active})
    if created or changed:
        organization.save()
    return _outcome(created, changed)


@retry_on_serialization_failure
@transaction.atomic
def group_import(*, data: Mapping[str, Any], active: bool, dropped_roles: set[str]) -> str:
    group, created = Group.objects.get_or_create(name=str(data["name"]))
    changed = _set_fields(
        group,
        {
            "description": str(data.get("description") or ""),
            "roles": _roles(data.get("roles"), dropped_roles),
            "active": active,
        },
    )
    if created or changed:
        group.save()
    organizations = Organization.objects.filter(name__in=_names(data.get("organizations")))
    changed = _set_many(group.organizations, organizations) or changed
    return _outcome(created, changed)


@retry_on_serialization_failure
@transaction.atomic
def user_import(*, data: Mapping[str, Any], active: bool, dropped_roles: set[str]) -> str:
    """One Estafette user, found by email (its first identity's when the user has none of its own)."""
    identities = [item for item in data.get("identities") or [] if isinstance(item, Mapping)]
    email = str(data.get("email") or next((item.get("email") for item in identities if item.get("email")), ""))
    if not email:
        raise ValueError("it has no email, here a user's name")
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=email, defaults={"email": email})
    if created:
        user.set_unusable_password()  # signs in through a login provider
    changed = _set_fields(user, {"email": email, "first_name": str(data.get("name") or "")[:150], "is_active": active})
    if created or changed:
        user.save()
    account, _ = Account.objects.get_or_create(user=user)
    account_changed = _set_fields(
        account,
        {
            "roles": _roles(data.get("roles"), dropped_roles),
            "current_provider": str(data.get("currentProvider") or "")[:64],
            "current_organization": str(data.get("currentOrganization") or "")[:256],
            "preferences": data.get("preferences") if isinstance(data.get("preferences"), dict) else {},
        },
    )
    if account_changed:
        account.save()
    changed = account_changed or changed
    changed = _set_many(account.groups, Group.objects.filter(name__in=_names(data.get("groups")))) or changed
    organizations = Organization.objects.filter(name__in=_names(data.get("organizations")))
    changed = _set_many(account.organizations, organizations) or changed
    for item in identities:
        if not item.get("provider") or not item.get("id"):
            continue
        identity, made = Identity.objects.get_or_create(
            provider=str(item["provider"])[:64], subject=str(item["id"])[:256], defaults={"user": user}
        )
        fields = {
            "user_id": user.pk,
            "email": str(item.get("email") or "")[:256],
            "name": str(item.get("name") or "")[:256],
            "avatar": str(item.get("avatar") or "")[:1024],
        }
        if _set_fields(identity, fields) or made:
            identity.save()
            changed = True
    return _outcome(created, changed)


@retry_on_serialization_failure
@transaction.atomic
def client_import(*, data: Mapping[str, Any], active: bool, dropped_roles: set[str]) -> str:
    """One Estafette API client with its id and secret (kept as a digest: the same secret logs in here)."""
    client_id, secret = str(data.get("clientID") or ""), str(data.get("clientSecret") or "")
    if not client_id or not secret or len(client_id) > 64:
        raise ValueError("it has no client id and secret this project can keep")
    client = Client.objects.filter(client_id=client_id).first()
    created = client is None
    if client is None:
        client = Client(client_id=client_id)
    changed = _set_fields(
        client,
        {
            "name": str(data.get("name") or client_id),
            "secret_digest": secret_digest(secret),
            "roles": _roles(data.get("roles"), dropped_roles),
            "active": active,
        },
    )
    if created or changed:
        client.save()
    organizations = Organization.objects.filter(name__in=_names(data.get("organizations")))
    changed = _set_many(client.organizations, organizations) or changed
    return _outcome(created, changed)
