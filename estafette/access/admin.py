from __future__ import annotations

from typing import Any

from django.contrib import admin

from estafette.access.models import Account, AuditEntry, Client, Group, Identity, Organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "roles")
    search_fields = ("name",)


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "roles")
    search_fields = ("name",)
    filter_horizontal = ("organizations",)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("user", "roles", "current_provider", "current_organization")
    search_fields = ("user__username", "user__email")
    filter_horizontal = ("groups", "organizations")


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("provider", "email", "name", "user")
    search_fields = ("email", "name", "subject")


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    """Secrets are made and shown once by the API (POST /api/clients, …/secret); the admin never shows a digest."""

    list_display = ("name", "client_id", "active", "roles")
    exclude = ("secret_digest",)
    readonly_fields = ("client_id",)
    filter_horizontal = ("organizations",)

    def has_add_permission(self, request: Any) -> bool:
        return False  # a client made here would have no secret: use the web UI or POST /api/clients


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read only: the trail is written by the server alone and removed only by its retention sweep."""

    list_display = ("at", "actor_kind", "actor", "action", "object_type", "object_id", "address", "status")
    list_filter = ("actor_kind", "action")
    search_fields = ("actor", "object_id", "path")
    date_hierarchy = "at"

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
