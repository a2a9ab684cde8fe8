"""Operators' admin for builds: filters, search, read-only log view, cancel/rebuild actions.

Actions call the same services as the API; a refused transition is reported, never forced.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from builds.models import Build
from builds.services import build_cancel, build_rebuild
from estafette.lib.errors import DomainError
from runs.admin import render_log
from runs.events import manual_event
from runs.selectors import log_record_latest


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ("id", "pipeline", "build_version", "status", "repo_branch", "short_revision", "inserted_at")
    list_filter = ("status", "pipeline__repo_source", "pipeline__archived", "manifest_valid")
    search_fields = ("pipeline__repo_owner", "pipeline__repo_name", "build_version", "repo_revision")
    list_select_related = ("pipeline",)
    show_full_result_count = False
    date_hierarchy = "inserted_at"
    actions = ("cancel_builds", "rebuild_versions")

    def get_readonly_fields(self, request: HttpRequest, obj: Build | None = None) -> list[str]:
        return [field.name for field in Build._meta.fields] + ["log"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Build | None = None) -> bool:
        return False

    @admin.display(description="revision")
    def short_revision(self, build: Build) -> str:
        return build.repo_revision[:10]

    @admin.display(description="log of the latest attempt")
    def log(self, build: Build) -> SafeString:
        return render_log(log_record_latest(run_kind=Build.kind, run_id=build.pk))

    @admin.action(description="Cancel the selected builds")
    def cancel_builds(self, request: HttpRequest, queryset: QuerySet[Build]) -> None:
        done = 0
        for build in queryset.select_related("pipeline"):
            try:
                build_cancel(build=build)
                done += 1
            except DomainError as refusal:
                self.message_user(request, refusal.message, messages.WARNING)
        if done:
            self.message_user(request, f"Canceled {done} build(s).", messages.SUCCESS)

    @admin.action(description="Rebuild the versions of the selected builds")
    def rebuild_versions(self, request: HttpRequest, queryset: QuerySet[Build]) -> None:
        versions = {(build.pipeline, build.build_version) for build in queryset.select_related("pipeline")}
        event = manual_event(request.user.email or request.user.get_username())
        done = 0
        for pipeline, version in sorted(versions, key=lambda item: (item[0].pk, item[1])):
            try:
                build_rebuild(pipeline=pipeline, build_version=version, triggered_by_events=[event])
                done += 1
            except DomainError as refusal:
                self.message_user(request, f"{pipeline}: {refusal.message}", messages.WARNING)
        if done:
            self.message_user(request, f"Started {done} rebuild(s).", messages.SUCCESS)
