"""What a caller's lists show (Estafette's list filtering): an administrator everything; anyone else the pipelines
of their organizations, or — when they belong to none — of their groups; a caller of neither sees every pipeline,
as in Estafette, where the filter is only added when the user has organizations or groups."""

from __future__ import annotations

from typing import Any

from estafette.access.principal import principal_of
from estafette.lib.listing import Within


def visible_to(request: Any) -> Within | None:
    principal = principal_of(request)
    if principal.is_administrator:
        return None
    if not principal.organization_ids and not principal.group_ids:
        return None
    return Within(group_ids=principal.group_ids, organization_ids=principal.organization_ids)
