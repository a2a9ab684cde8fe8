"""Operators' admin for pipelines: filters, search, archive/unarchive through the service."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from pipelines.models import Pipeline
from pipelines.services import pipeline_archive


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("full_name", "build_status", "latest_version", "archived", "build_count", "last_updated_at")
    list_filter = ("archived", "build_status", "repo_source")
    search_fields = ("repo_owner", "repo_name")
    list_select_related = ("latest_build",)
    ordering = ("repo_source", "repo_owner", "repo_name")
    actions = ("archive", "unarchive")

    def get_readonly_fields(self, request: HttpRequest, obj: Pipeline | None = None) -> list[str]:
        return [field.name for field in Pipeline._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Pipeline | None = None) -> bool:
        return False

    @admin.display(description="version", ordering="latest_build__build_version")
    def latest_version(self, pipeline: Pipeline) -> str:
        return pipeline.latest_build.build_version if pipeline.latest_build else ""

    @admin.action(description="Archive the selected pipelines")
    def archive(self, request: HttpRequest, queryset: QuerySet[Pipeline]) -> None:
        changed = sum(pipeline_archive(pipeline=pipeline, archived=True) for pipeline in queryset)
        self.message_user(request, f"Archived {changed} pipeline(s).", messages.SUCCESS)

    @admin.action(description="Unarchive the selected pipelines")
    def unarchive(self, request: HttpRequest, queryset: QuerySet[Pipeline]) -> None:
        changed = sum(pipeline_archive(pipeline=pipeline, archived=False) for pipeline in queryset)
        self.message_user(request, f"Unarchived {changed} pipeline(s).", messages.SUCCESS)
