"""Estafette's roles and what each lets its holder do (ESTAFETTE.md §3.2, api:pkg/api/domain.go).

The role names are Estafette's own, so a configuration or a client written for Estafette assigns the same roles
here. Permissions are named ``<area>.<object>.<verb>`` like Estafette's (``rbac.users.list``, ``ci.builds.cancel``);
Estafette's string table is misaligned with its enum, so the names follow the enum's meaning. Two permissions are
this project's own: ``ci.bots.*`` and ``ci.secrets.encrypt`` (Estafette lets any logged-in user run bots and encrypt;
here they need the same pipeline role as a release).
"""

from __future__ import annotations

ADMINISTRATOR = "administrator"
GROUP_PIPELINES_VIEWER = "group.pipelines.viewer"
GROUP_PIPELINES_OPERATOR = "group.pipelines.operator"
ORGANIZATION_PIPELINES_VIEWER = "organization.pipelines.viewer"
ORGANIZATION_PIPELINES_OPERATOR = "organization.pipelines.operator"

ROLES: tuple[str, ...] = (
    ADMINISTRATOR,
    "cron.trigger",
    "log.migrator",
    "role.viewer",
    "user.viewer",
    "user.admin",
    "group.viewer",
    "group.admin",
    "organization.viewer",
    "organization.admin",
    "client.viewer",
    "client.admin",
    ORGANIZATION_PIPELINES_VIEWER,
    ORGANIZATION_PIPELINES_OPERATOR,
    GROUP_PIPELINES_VIEWER,
    GROUP_PIPELINES_OPERATOR,
    "catalog.entities.viewer",
    "catalog.entities.admin",
)

# Pipeline permissions: granted by a *.pipelines.* role only on the pipelines of the holder's groups
# (group.pipelines.*) or organizations (organization.pipelines.*); an administrator holds them everywhere.
PIPELINE_VIEW = frozenset({"ci.pipelines.list", "ci.pipelines.get", "ci.builds.list", "ci.builds.get"})
PIPELINE_OPERATE = frozenset(
    {
        "ci.builds.cancel",
        "ci.builds.rebuild",
        "ci.releases.create",
        "ci.releases.cancel",
        "ci.bots.create",
        "ci.bots.cancel",
        "ci.secrets.encrypt",
    }
)

# Permissions that hold everywhere, by role.
GLOBAL_PERMISSIONS: dict[str, frozenset[str]] = {
    "role.viewer": frozenset({"rbac.roles.list"}),
    "user.viewer": frozenset({"rbac.users.list", "rbac.users.get"}),
    "user.admin": frozenset(
        {"rbac.users.list", "rbac.users.get", "rbac.users.create", "rbac.users.update", "rbac.users.delete"}
    ),
    "group.viewer": frozenset({"rbac.groups.list", "rbac.groups.get"}),
    "group.admin": frozenset(
        {"rbac.groups.list", "rbac.groups.get", "rbac.groups.create", "rbac.groups.update", "rbac.groups.delete"}
    ),
    "organization.viewer": frozenset({"rbac.organizations.list", "rbac.organizations.get"}),
    "organization.admin": frozenset(
        {
            "rbac.organizations.list",
            "rbac.organizations.get",
            "rbac.organizations.create",
            "rbac.organizations.update",
            "rbac.organizations.delete",
        }
    ),
    "client.viewer": frozenset({"rbac.clients.list", "rbac.clients.get"}),
    "client.admin": frozenset(
        {"rbac.clients.list", "rbac.clients.get", "rbac.clients.create", "rbac.clients.update", "rbac.clients.delete"}
    ),
    "catalog.entities.viewer": frozenset({"catalog.entities.list", "catalog.entities.get"}),
    "catalog.entities.admin": frozenset(
        {
            "catalog.entities.list",
            "catalog.entities.get",
            "catalog.entities.create",
            "catalog.entities.update",
            "catalog.entities.delete",
        }
    ),
}

# Only an administrator: assigning pipelines to groups and organizations, batch edits and the audit trail.
ADMINISTRATOR_ONLY = frozenset({"ci.pipelines.update", "rbac.batch", "audit.list"})


def global_permissions(roles: frozenset[str]) -> frozenset[str]:
    """What ``roles`` allow everywhere (the pipeline permissions are scoped: see ``Principal.may_on_pipeline``)."""
    if ADMINISTRATOR in roles:
        every = set(ADMINISTRATOR_ONLY) | PIPELINE_VIEW | PIPELINE_OPERATE
        for granted in GLOBAL_PERMISSIONS.values():
            every |= granted
        return frozenset(every)
    allowed: set[str] = set()
    for role in roles:
        allowed |= GLOBAL_PERMISSIONS.get(role, frozenset())
    return frozenset(allowed)


def unknown_roles(roles: list[str]) -> list[str]:
    return [role for role in roles if role not in ROLES]
