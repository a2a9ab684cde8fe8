"""Operators' admin for releases and bot runs: filters and search over ``runs.admin.RunAdmin`` (read only, logs,
cancel)."""

from __future__ import annotations

from django.contrib import admin

from releases.models import BotRun, Release
from runs.admin import RunAdmin


@admin.register(Release)
class ReleaseAdmin(RunAdmin):
    list_display = ("id", "pipeline", "name", "action", "release_version", "status", "inserted_at")
    list_filter = ("status", "name", "pipeline__repo_source", "pipeline__archived")
    search_fields = ("pipeline__repo_owner", "pipeline__repo_name", "release_version", "name")


@admin.register(BotRun)
class BotRunAdmin(RunAdmin):
    list_display = ("id", "pipeline", "name", "status", "inserted_at")
    list_filter = ("status", "pipeline__repo_source")
    search_fields = ("pipeline__repo_owner", "pipeline__repo_name", "name")
