"""Writes of identity and access: users' roles and memberships, groups, organizations, clients, first logins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from estafette.access.models import Account, Client, Group, Identity, Organization
from estafette.lib.db import retry_on_serialization_failure
from estafette.lib.errors import BadRequest


def account_of(user: Any) -> Account:
    account, _ = Account.objects.get_or_create(user=user)
    return account


@retry_on_serialization_failure
@transaction.atomic
def user_update(
    *,
    user: Any,
    active: bool | None = None,
    email: str | None = None,
    roles: Sequence[str] | None = None,
    groups: Iterable[Group] | None = None,
    organizations: Iterable[Organization] | None = None,
) -> Any:
    """Change what an administrator may change of a user; None leaves a field as it is."""
    if active is not None:
        user.is_active = active
    if email is not None:
        user.email = email
    user.save()
    account = account_of(user)
    if roles is not None:
        account.roles = sorted(set(roles))
        account.save(update_fields=["roles"])
    if groups is not None:
        account.groups.set(groups)
    if organizations is not None:
        account.organizations.set(organizations)
    return user


@retry_on_serialization_failure
@transaction.atomic
def user_create(*, email: str, name: str = "", **changes: Any) -> Any:
    User = get_user_model()
    if User.objects.filter(username=email).exists():
        raise BadRequest(f"a user {email!r} exists already")
    user = User.objects.create_user(username=email, email=email, first_name=name[:150])
    user.set_unusable_password()  # signs in through a login provider
    return user_update(user=user, **changes)


def named_save(instance: Any, **fields: Any) -> Any:
    """Save a group, organization or client with ``fields`` (the many-to-many ones after the row)."""
    many = {name: fields.pop(name) for name in ("organizations",) if name in fields}
    name = fields.get("name")
    if name is not None:
        clash = type(instance).objects.filter(name=name).exclude(pk=instance.pk)
        if clash.exists():
            raise BadRequest(f"a {type(instance)._meta.verbose_name} named {name!r} exists already")
    for field, value in fields.items():
        setattr(instance, field, sorted(set(value)) if field == "roles" else value)
    instance.save()
    for field, value in many.items():
        getattr(instance, field).set(value)
    return instance


@retry_on_serialization_failure
@transaction.atomic
def group_save(*, group: Group | None = None, **fields: Any) -> Group:
    return named_save(group or Group(), **fields)


@retry_on_serialization_failure
@transaction.atomic
def organization_save(*, organization: Organization | None = None, **fields: Any) -> Organization:
    return named_save(organization or Organization(), **fields)


@retry_on_serialization_failure
@transaction.atomic
def client_create(**fields: Any) -> tuple[Client, str]:
    """A new client and its secret (returned once; only its digest is kept)."""
    client = Client()
    secret = client.set_new_secret()
    return named_save(client, **fields), secret


@retry_on_serialization_failure
@transaction.atomic
def client_update(*, client: Client, new_secret: bool = False, **fields: Any) -> tuple[Client, str | None]:
    secret = client.set_new_secret() if new_secret else None
    return named_save(client, **fields), secret


def _edit_list(current: Sequence[str], *, set_to: str | None, add: Sequence[str], remove: Sequence[str]) -> list[str]:
    values = set(current)
    if set_to:
        values.add(set_to)
    values |= set(add)
    values -= set(remove)
    return sorted(values)


@retry_on_serialization_failure
@transaction.atomic
def batch_edit(*, kind: str, ids: Sequence[int], changes: dict[str, Any]) -> int:
    """Estafette's batch routes: add or remove roles, groups and organizations of several items at once.

    ``kind`` is users, groups, organizations or clients (pipelines are the pipelines app's). Returns how many items
    were changed; an unknown id or name is a ``BadRequest`` and nothing is changed."""

    def refs(model: type[Any], names: Sequence[str]) -> list[Any]:
        found = list(model.objects.filter(name__in=names))
        missing = set(names) - {item.name for item in found}
        if missing:
            raise BadRequest(f"no {model._meta.verbose_name} named {sorted(missing)[0]!r}")
        return found

    def one(value: str | None) -> list[str]:
        return [value] if value else []

    items: list[Any]
    if kind == "users":
        items = [account_of(user) for user in get_user_model().objects.filter(pk__in=ids)]
    else:
        model = {"groups": Group, "organizations": Organization, "clients": Client}[kind]
        items = list(model.objects.filter(pk__in=ids))
    if len(items) != len(set(ids)):
        raise BadRequest(f"some of the {kind} named do not exist")
    add_groups = refs(Group, [*one(changes.get("group")), *changes.get("groups_to_add", [])])
    remove_groups = refs(Group, changes.get("groups_to_remove", []))
    add_organizations = refs(
        Organization, [*one(changes.get("organization")), *changes.get("organizations_to_add", [])]
    )
    remove_organizations = refs(Organization, changes.get("organizations_to_remove", []))
    for item in items:
        item.roles = _edit_list(
            item.roles,
            set_to=changes.get("role"),
            add=changes.get("roles_to_add", []),
            remove=changes.get("roles_to_remove", []),
        )
        item.save()
        if hasattr(item, "groups") and kind == "users":
            item.groups.add(*add_groups)
            item.groups.remove(*remove_groups)
        if hasattr(item, "organizations"):
            item.organizations.add(*add_organizations)
            item.organizations.remove(*remove_organizations)
    return len(items)


@retry_on_serialization_failure
@transaction.atomic
def user_login_with_identity(
    *,
    provider: str,
    subject: str,
    email: str,
    name: str,
    avatar: str,
    organization: str = "",
) -> Any:
    """The user of a login provider's identity, made on first login (Estafette's ``upsertUser``): found by the
    identity, else by its email (a user made by an administrator, or known from another provider), else created. The
    identity's email, name and avatar are refreshed; the provider and organization of this login are remembered and
    the organization is made when it does not exist yet (and the user joins it)."""
    User = get_user_model()
    identity = Identity.objects.select_related("user").filter(provider=provider, subject=subject).first()
    user = identity.user if identity is not None else None
    if user is None and email:
        user = User.objects.filter(email__iexact=email).order_by("pk").first()
    if user is None:
        username = email or f"{provider}:{subject}"
        if User.objects.filter(username=username).exists():
            username = f"{provider}:{subject}"
        user = User.objects.create_user(username=username[:150], email=email, first_name=name[:150])
        user.set_unusable_password()
        user.save()
    if identity is None:
        identity = Identity(user=user, provider=provider, subject=subject)
    identity.email, identity.name, identity.avatar = email, name[:256], avatar[:1024]
    identity.save()
    account = account_of(user)
    account.current_provider = provider
    account.current_organization = organization
    account.save(update_fields=["current_provider", "current_organization"])
    if organization:
        joined, _ = Organization.objects.get_or_create(name=organization)
        account.organizations.add(joined)
    return user
