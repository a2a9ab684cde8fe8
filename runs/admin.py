"""Operators' admin for the log store (read only), and the log view every run kind's admin shows."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from runs import selectors
from runs.models import LogRecord
from runs.registry import run_kinds

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
