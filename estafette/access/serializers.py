"""Estafette's JSON for users, groups, organizations, clients and the audit trail (``contracts.User`` and friends)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from estafette.access.models import Group, Organization
from estafette.access.roles import ROLES, global_permissions
from estafette.lib.serializers import CamelCaseSerializer, IdField, TimestampField


class AccessRefSerializer(CamelCaseSerializer):
    """A group or organization as a pipeline, run, user or client names it: ``{id, name}``."""

    id = IdField(source="pk")
    name = serializers.CharField()


@extend_schema_field(AccessRefSerializer(many=True))
class RefListField(serializers.ListField):
    """Groups or organizations, written as ``[{id}]`` or ``[{name}]`` (Estafette's UI sends whole objects) and read
    as ``[{id, name}]``; each must exist."""

    def __init__(self, model: type[Any], **kwargs: Any) -> None:
        self.model = model
        super().__init__(child=serializers.DictField(), **kwargs)

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        items = value.all() if hasattr(value, "all") else value
        return [{"id": str(item.pk), "name": item.name} for item in items]

    def to_internal_value(self, data: Any) -> list[Any]:
        refs = super().to_internal_value(data)
        found = []
        for ref in refs:
            query = {}
            if ref.get("id") not in (None, ""):
                if not str(ref["id"]).isdigit():
                    raise serializers.ValidationError(f"{ref['id']!r} is not an id")
                query["pk"] = int(ref["id"])
            elif ref.get("name"):
                query["name"] = str(ref["name"])
            else:
                raise serializers.ValidationError("each item needs an id or a name")
            item = self.model.objects.filter(**query).first()
            if item is None:
                label = self.model._meta.verbose_name
                raise serializers.ValidationError(f"no {label} {ref.get('id') or ref.get('name')!r}")
            found.append(item)
        return found


class RolesField(serializers.ListField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.ChoiceField(choices=ROLES), **kwargs)


class IdentitySerializer(CamelCaseSerializer):
    provider = serializers.CharField()
    id = serializers.CharField(source="subject")
    email = serializers.CharField()
    name = serializers.CharField()
    avatar = serializers.CharField()


class OrganizationSerializer(CamelCaseSerializer):
    id = IdField(source="pk", read_only=True)
    name = serializers.CharField(max_length=256)
    roles = RolesField(required=False)
    active = serializers.BooleanField(required=False)
    identities = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_identities(self, organization: Organization) -> list[Any]:
        return []  # organizations are not linked to provider identities here


class GroupSerializer(CamelCaseSerializer):
    id = IdField(source="pk", read_only=True)
    name = serializers.CharField(max_length=256)
    description = serializers.CharField(required=False, allow_blank=True)
    roles = RolesField(required=False)
    organizations = RefListField(Organization, required=False)
    active = serializers.BooleanField(required=False)
    identities = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_identities(self, group: Group) -> list[Any]:
        return []


class UserSerializer(CamelCaseSerializer):
    """``contracts.User``: the user, their identities at login providers, roles and memberships."""

    id = IdField(source="pk", read_only=True)
    active = serializers.BooleanField(source="is_active", required=False)
    name = serializers.SerializerMethodField()
    email = serializers.EmailField(required=False, allow_blank=True)
    identities = serializers.SerializerMethodField()
    roles = RolesField(source="account.roles", required=False)
    groups = RefListField(Group, source="account.groups", required=False)
    organizations = RefListField(Organization, source="account.organizations", required=False)
    current_provider = serializers.CharField(source="account.current_provider", read_only=True)
    current_organization = serializers.CharField(source="account.current_organization", read_only=True)
    first_visit = TimestampField(source="date_joined", read_only=True)
    last_visit = TimestampField(source="last_login", read_only=True, allow_null=True)

    @extend_schema_field(OpenApiTypes.STR)
    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.get_username()

    @extend_schema_field(IdentitySerializer(many=True))
    def get_identities(self, user: Any) -> list[Any]:
        """The user at each login provider, and ``local`` for a user with a password here."""
        identities = list(IdentitySerializer(user.identities.all(), many=True).data)
        if user.has_usable_password():
            name = self.get_name(user)
            identities.append(
                {"provider": "local", "id": str(user.pk), "email": user.email, "name": name, "avatar": ""}
            )
        return identities


class MeSerializer(UserSerializer):
    """The caller, with the roles they hold (their own, their groups' and organizations') and, for a local user,
    their username."""

    username = serializers.CharField(read_only=True)
    roles = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField(
        help_text="What the roles allow everywhere (rbac.users.list…), from the server's role table: the web UI "
        "shows the pages and buttons of these, and the pipeline permissions from effectiveGroups/Organizations."
    )
    effective_groups = serializers.SerializerMethodField(
        method_name="get_effective_groups",
        help_text="Ids of the active groups whose pipelines a group.pipelines.* role applies to.",
    )
    effective_organizations = serializers.SerializerMethodField(
        method_name="get_effective_organizations",
        help_text="Ids of the active organizations (own and the groups') whose pipelines an "
        "organization.pipelines.* role applies to.",
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_roles(self, user: Any) -> list[str]:
        return sorted(self.context["principal"].roles)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_permissions(self, user: Any) -> list[str]:
        return sorted(global_permissions(self.context["principal"].roles))

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_effective_groups(self, user: Any) -> list[str]:
        return [str(pk) for pk in sorted(self.context["principal"].group_ids)]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_effective_organizations(self, user: Any) -> list[str]:
        return [str(pk) for pk in sorted(self.context["principal"].organization_ids)]


class ClientSerializer(CamelCaseSerializer):
    id = IdField(source="pk", read_only=True)
    name = serializers.CharField(max_length=256)
    client_id = serializers.CharField(read_only=True)
    roles = RolesField(required=False)
    organizations = RefListField(Organization, required=False)
    active = serializers.BooleanField(required=False)
    inserted_at = TimestampField(read_only=True)


class NewClientSerializer(ClientSerializer):
    """A client as created (or given a new secret): with its secret, shown this once and never again."""

    client_secret = serializers.CharField(read_only=True)


class ClientLoginSerializer(CamelCaseSerializer):
    client_id = serializers.CharField(max_length=64)
    client_secret = serializers.CharField(max_length=256, trim_whitespace=False)


class ClientTokenSerializer(CamelCaseSerializer):
    token = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="seconds")


class AuditEntrySerializer(CamelCaseSerializer):
    id = IdField(source="pk")
    at = TimestampField()
    actor_kind = serializers.CharField()
    actor = serializers.CharField()
    action = serializers.CharField()
    method = serializers.CharField()
    path = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    address = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(allow_null=True)


class BatchSerializer(CamelCaseSerializer):
    """``POST /api/admin/batch/<kind>``: ids, then the roles, groups and organizations to set, add or remove."""

    ids = serializers.ListField(child=serializers.CharField(), min_length=1, max_length=1000)
    role = serializers.ChoiceField(choices=ROLES, required=False)
    roles_to_add = RolesField(required=False)
    roles_to_remove = RolesField(required=False)
    group = serializers.CharField(required=False)
    groups_to_add = serializers.ListField(child=serializers.CharField(), required=False)
    groups_to_remove = serializers.ListField(child=serializers.CharField(), required=False)
    organization = serializers.CharField(required=False)
    organizations_to_add = serializers.ListField(child=serializers.CharField(), required=False)
    organizations_to_remove = serializers.ListField(child=serializers.CharField(), required=False)
