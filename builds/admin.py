"""Operators' admin for builds: filters and search over ``runs.admin.RunAdmin`` (read only, logs, cancel), and a
rebuild action.

Actions call the same services as the API; a refused transition is reported, never forced.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from builds.models import Build
from builds.services import build_rebuild
from estafette.lib.errors import DomainError
from runs.admin import RunAdmin
from runs.events import manual_event


@admin.register(Build)
class BuildAdmin(RunAdmin):
    list_display = ("id", "pipeline", "build_version", "status", "repo_branch", "short_revision", "inserted_at")
    list_filter = ("status", "pipeline__repo_source", "pipeline__archived", "manifest_valid")
    search_fields = ("pipeline__repo_owner", "pipeline__repo_name", "build_version", "repo_revision")
    actions = ("rebuild_versions",)

    @admin.display(description="revision")
    def short_revision(self, build: Build) -> str:
        return build.repo_revision[:10]

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
