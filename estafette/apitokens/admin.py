"""API tokens in the admin: prefix, name, user, created, last used; never the key (only its digest is kept).

Adding one shows its key on the page that answers the form, once; it is not stored, logged or put in a message
(Django's messages travel in a cookie).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from estafette.apitokens.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix_shown", "name", "user", "created", "last_used")
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__username")
    fields = ("user", "name", "prefix_shown", "created", "last_used")
    readonly_fields = ("prefix_shown", "created", "last_used")
    raw_id_fields = ("user",)

    @admin.display(description="key", ordering="prefix")
    def prefix_shown(self, token: ApiToken) -> str:
        return f"{token.prefix}…" if token.prefix else "(shown once, when it is saved)"

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        # A token's user is fixed once it exists: moving a key to another user would hand them its holder's access.
        return (*self.readonly_fields, "user") if obj is not None else tuple(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if not change:
            request._new_api_token_key = obj.set_new_key()  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        key = getattr(request, "_new_api_token_key", None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "opts": self.opts,
            "token": obj,
            "key": key,
        }
        # The admin's views answer with Cache-Control: no-store (never_cache): the key stays in no cache.
        return TemplateResponse(request, "admin/apitokens/apitoken/created.html", context)
