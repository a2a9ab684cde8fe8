"""Operators' admin for builds and logs: filters, search, read-only log view, cancel/rebuild actions.

Actions call the same services as the API; a refused transition is reported, never forced.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from builds import selectors
from builds.models import Build
from builds.services import build_cancel, build_rebuild, manual_event
from estafette.lib.errors import DomainError
from runs.models import LogRecord

LOG_LINES_SHOWN = 5000


def render_log(record: LogRecord | None) -> SafeString:
    """The record's step tree as escaped, preformatted text (at most ``LOG_LINES_SHOWN`` lines)."""
    if record is None:
        return format_html("<em>{}</em>", "no log yet")
    rows: list[tuple[str]] = []
    budget = [LOG_LINES_SHOWN]

    def add(nodes: list[selectors.LogStepNode], indent: str) -> None:
        for node in nodes:
            step = selectors.log_step_fields(node.step)
            duration = f" {step['duration'] / 1e9:.1f}s" if step.get("duration") else ""
            rows.append((f"{indent}▸ {step['step']} [{step['status']}] exit {step['exitCode']}{duration}",))
            # Read only as many lines as are shown: a log can be far longer than this page should hold.
            for lines in selectors.log_lines_of_step(record_id=record.pk, step_id=node.step.pk, lines_per_read=1000):
                if budget[0] <= 0:
                    break
                shown = lines[: budget[0]]
                budget[0] -= len(shown)
                rows.extend((f"{indent}  {line['text']}",) for line in shown)
            add(node.services, indent + "  ")
            add(node.nested_steps, indent + "  ")

    add(selectors.log_step_tree(record=record), "")
    if budget[0] <= 0:
        rows.append((f"… more lines than {LOG_LINES_SHOWN}: read the whole log through the API",))
    body = format_html_join("\n", "{}", rows)
    return format_html('<pre style="max-height:40em;overflow:auto;white-space:pre-wrap">{}</pre>', body)


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
        return render_log(selectors.log_record_latest(run_kind=Build.kind, run_id=build.pk))

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


@admin.register(LogRecord)
class LogRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "pipeline", "run_kind", "run_id", "attempt", "inserted_at", "updated_at")
    list_filter = ("run_kind",)
    search_fields = ("pipeline__repo_owner", "pipeline__repo_name", "=run_id")
    list_select_related = ("pipeline",)
    show_full_result_count = False
    fields = ("pipeline", "run_kind", "run_id", "attempt", "inserted_at", "updated_at", "log")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LogRecord | None = None) -> bool:
        return False

    @admin.display(description="log")
    def log(self, record: LogRecord) -> SafeString:
        return render_log(record)
