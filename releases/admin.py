"""Operators' admin for releases and bot runs: filters, search, read-only logs, cancel action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from estafette.lib.errors import DomainError
from releases.models import BotRun, Release
from releases.services import bot_cancel, release_cancel
from runs.admin import render_log
from runs.selectors import log_record_latest


class RunAdmin(admin.ModelAdmin):
    list_select_related = ("pipeline",)
    show_full_result_count = False
    date_hierarchy = "inserted_at"

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in self.model._meta.fields] + ["log"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="log of the latest attempt")
    def log(self, run: Release | BotRun) -> SafeString:
        return render_log(log_record_latest(run_kind=run.kind, run_id=run.pk))


@admin.register(Release)
class ReleaseAdmin(RunAdmin):
    list_display = ("id", "pipeline", "name", "action", "release_version", "status", "inserted_at")
    list_filter = ("status", "name", "pipeline__repo_source", "pipeline__archived")
    search_fields = ("pipeline__repo_owner", "pipeline__repo_name", "release_version", "name")
    actions = ("cancel_releases",)

    @admin.action(description="Cancel the selected releases")
    def cancel_releases(self, request: HttpRequest, queryset: QuerySet[Release]) -> None:
        done = 0
        for release in queryset.select_related("pipeline"):
            try:
                release_cancel(release=release)
                done += 1
            except DomainError as refusal:
                self.message_user(request, refusal.message, messages.WARNING)
        if done:
            self.message_user(request, f"Canceled {done} release(s).", messages.SUCCESS)


@admin.register(BotRun)
class BotRunAdmin(RunAdmin):
    list_display = ("id", "pipeline", "name", "status", "inserted_at")
    list_filter = ("status", "pipeline__repo_source")
    search_fields = ("pipeline__repo_owner", "pipeline__repo_name", "name")
    actions = ("cancel_bot_runs",)

    @admin.action(description="Cancel the selected bot runs")
    def cancel_bot_runs(self, request: HttpRequest, queryset: QuerySet[BotRun]) -> None:
        done = 0
        for run in queryset.select_related("pipeline"):
            try:
                bot_cancel(bot_run=run)
                done += 1
            except DomainError as refusal:
                self.message_user(request, refusal.message, messages.WARNING)
        if done:
            self.message_user(request, f"Canceled {done} bot run(s).", messages.SUCCESS)
