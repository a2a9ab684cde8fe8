"""Operators' admin for the log store (read only), and the base of every run kind's admin (``RunAdmin``).

Actions call the same services as the API; a refused transition is reported, never forced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from estafette.lib.errors import DomainError
from runs import selectors
from runs.models import LogRecord
from runs.registry import run_kind, run_kinds

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


class RunAdmin(admin.ModelAdmin):
    """The admin of one run kind: read only, with the log of the run's latest attempt, and an action that cancels the
    selected runs (``cancel_builds``, ``cancel_releases``, ``cancel_bot_runs``: the kind's cancel service). A kind's
    admin adds its columns, filters, searches and actions of its own."""

    list_select_related = ("pipeline",)
    show_full_result_count = False
    date_hierarchy = "inserted_at"

    def __init__(self, model: type[Any], admin_site: admin.AdminSite) -> None:
        super().__init__(model, admin_site)
        self.actions = (cancel_action(model), *(self.actions or ()))

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in self.model._meta.fields] + ["log"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="log of the latest attempt")
    def log(self, run: Any) -> SafeString:
        return render_log(selectors.log_record_latest(run_kind=run.kind, run_id=run.pk))


def cancel_action(model: type[Any]) -> Callable[[admin.ModelAdmin, HttpRequest, QuerySet[Any]], None]:
    """The admin action cancelling the selected runs of ``model``'s kind, named after them (``cancel_bot_runs``)."""
    plural = str(model._meta.verbose_name_plural)

    @admin.action(description=f"Cancel the selected {plural}")
    def cancel(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        kind = run_kind(model.kind)  # here, not above: the admins are made before the kinds register
        done = 0
        for run in queryset.select_related("pipeline"):
            try:
                kind.cancel(run, None)
                done += 1
            except DomainError as refusal:
                model_admin.message_user(request, refusal.message, messages.WARNING)
        if done:
            model_admin.message_user(request, f"Canceled {done} {kind.label}(s).", messages.SUCCESS)

    cancel.__name__ = f"cancel_{plural.replace(' ', '_')}"
    return cancel


class RunKindFilter(admin.SimpleListFilter):
    """The registered run kinds (``runs.registry``), not a list of its own."""

    title = "run kind"
    parameter_name = "run_kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(kind.name, kind.name) for kind in run_kinds()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[LogRecord]) -> QuerySet[LogRecord]:
        return queryset.filter(run_kind=self.value()) if self.value() else queryset


@admin.register(LogRecord)
class LogRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "pipeline", "run_kind", "run_id", "attempt", "inserted_at", "updated_at")
    list_filter = (RunKindFilter,)
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
