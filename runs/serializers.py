"""Estafette's JSON for runs and their logs (CONTRACTS §3): the fields every run kind shows (``RunSerializer``, which
each kind's serializer extends), and the documented log shapes (the documents are streamed by ``runs.log_document``,
the live tail by ``runs.tail``)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from estafette.access.serializers import AccessRefSerializer
from estafette.lib.serializers import CamelCaseSerializer, IdField, TimestampField, camel_case, wire_json


class LogLineSerializer(CamelCaseSerializer):
    line = serializers.IntegerField()
    timestamp = serializers.CharField()
    stream_type = serializers.ChoiceField(choices=["stdout", "stderr"])
    text = serializers.CharField()


class StepImageSerializer(CamelCaseSerializer):
    name = serializers.CharField(required=False)
    tag = serializers.CharField(required=False)
    is_pulled = serializers.BooleanField(required=False)
    image_size = serializers.IntegerField(required=False)
    pull_duration = serializers.IntegerField(required=False, help_text="nanoseconds")
    error = serializers.CharField(required=False)
    is_trusted = serializers.BooleanField(required=False)
    has_injected_credentials = serializers.BooleanField(required=False)


class ServiceStepSerializer(CamelCaseSerializer):
    step = serializers.CharField()
    depth = serializers.IntegerField()
    run_index = serializers.IntegerField()
    image = StepImageSerializer(allow_null=True, help_text="null until the builder reported the step's image")
    duration = serializers.IntegerField(help_text="nanoseconds")
    exit_code = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["UNKNOWN", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"]
    )
    auto_injected = serializers.BooleanField()
    log_lines = LogLineSerializer(many=True)
    nested_steps = serializers.ListField(
        child=serializers.DictField(), max_length=0, help_text="always empty for a service"
    )
    services = serializers.ListField(
        child=serializers.DictField(), max_length=0, help_text="always empty for a service"
    )


class NestedStepSerializer(ServiceStepSerializer):
    services = ServiceStepSerializer(many=True)


class StepSerializer(ServiceStepSerializer):
    nested_steps = NestedStepSerializer(many=True, help_text="parallel stages")
    services = ServiceStepSerializer(many=True)


class LogSerializer(CamelCaseSerializer):
    """``GET …/logs``: one log record with its step tree (``buildID``, ``releaseID`` or ``botID``)."""

    id = serializers.CharField()
    repo_source = serializers.CharField()
    repo_owner = serializers.CharField()
    repo_name = serializers.CharField()
    repo_branch = serializers.CharField(required=False)
    repo_revision = serializers.CharField(required=False)
    build_id = serializers.CharField(required=False)
    release_id = serializers.CharField(required=False)
    bot_id = serializers.CharField(required=False)
    inserted_at = TimestampField()
    steps = StepSerializer(many=True)


class LogRecordSerializer(CamelCaseSerializer):
    """An entry of ``GET …/alllogs``: one attempt's log record as Estafette lists it (``buildID``, ``releaseID`` or
    ``botID``; a build's branch and revision), without its steps — those are at ``…/logsbyid/{id}``. ``attempt`` and
    ``updatedAt`` are this API's own. Expects ``run_fields`` (``RunKind.log_fields``) in the context."""

    id = IdField(source="pk")
    repo_source = serializers.CharField(source="pipeline.repo_source")
    repo_owner = serializers.CharField(source="pipeline.repo_owner")
    repo_name = serializers.CharField(source="pipeline.repo_name")
    repo_branch = serializers.CharField(required=False)
    repo_revision = serializers.CharField(required=False)
    build_id = serializers.CharField(required=False)
    release_id = serializers.CharField(required=False)
    bot_id = serializers.CharField(required=False)
    steps = serializers.ListField(
        child=serializers.DictField(), max_length=0, help_text="always empty here: read one log by its id"
    )
    inserted_at = TimestampField()
    attempt = serializers.IntegerField()
    updated_at = TimestampField()

    _RUN_FIELDS = frozenset({"repoBranch", "repoRevision", "buildID", "releaseID", "botID"})

    def to_representation(self, instance: Any) -> dict[str, Any]:
        run_fields = self.context.get("run_fields", {})
        data: dict[str, Any] = {}
        for field in self._readable_fields:
            name = field.field_name
            if name in self._RUN_FIELDS:
                if name in run_fields:
                    data[name] = run_fields[name]
            elif name == "steps":
                data[name] = []
            else:
                data[name] = field.to_representation(field.get_attribute(instance))
        return data


class EstafetteEventSerializer(CamelCaseSerializer):
    """One event that started a run (``builder.manifest.events.Event``): its name, whether it fired, and one object
    for its kind; empty values are left out. Documents stored JSON (see ``wire_json``): never used to render."""

    name = serializers.CharField(required=False)
    fired = serializers.BooleanField(required=False)
    pipeline = serializers.DictField(required=False)
    release = serializers.DictField(required=False)
    git = serializers.DictField(required=False)
    docker = serializers.DictField(required=False)
    cron = serializers.DictField(required=False)
    pubsub = serializers.DictField(required=False)
    github = serializers.DictField(required=False)
    bitbucket = serializers.DictField(required=False)
    manual = serializers.DictField(required=False)


class RunSerializer(CamelCaseSerializer):
    """What every run kind shows: its id, its pipeline's repository, the events that started it and its times.

    A kind's serializer adds its own fields and the JSON keeps Estafette's order: the id, the kind's fields named in
    ``shown_first`` (a release's ``name`` and ``action``), the repository, the kind's other fields, the events and
    times, then the kind's fields named in ``shown_last`` (a build's manifests).
    """

    omit_when_null: tuple[str, ...] = ("started_at", "duration", "pending_duration")
    shown_first: tuple[str, ...] = ()
    shown_last: tuple[str, ...] = ()
    _HEAD = ("id", "repo_source", "repo_owner", "repo_name")
    _TAIL = ("trigger_events", "inserted_at", "started_at", "updated_at", "duration", "pending_duration")

    id = IdField(source="pk")
    repo_source = serializers.CharField(source="pipeline.repo_source")
    repo_owner = serializers.CharField(source="pipeline.repo_owner")
    repo_name = serializers.CharField(source="pipeline.repo_name")
    # Estafette's JSON name (contracts: ``Events []EstafetteEvent `json:"triggerEvents"` ``) for the events that
    # started the run; the column keeps Estafette's database name.
    trigger_events = wire_json(EstafetteEventSerializer(many=True), source="triggered_by_events")
    inserted_at = TimestampField()
    started_at = TimestampField()
    updated_at = TimestampField()
    duration = serializers.IntegerField(source="duration_ns", help_text="nanoseconds; absent until finished")
    pending_duration = serializers.IntegerField(
        source="pending_duration_ns", help_text="nanoseconds from creation to start; absent until started"
    )
    # Who sees and operates the run: its pipeline's groups and organizations (estafette.access).
    groups = AccessRefSerializer(source="pipeline.groups", many=True, read_only=True)
    organizations = AccessRefSerializer(source="pipeline.organizations", many=True, read_only=True)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()  # wire (camelCase) names, the base's fields first
        first = [camel_case(name) for name in (self._HEAD[0], *self.shown_first, *self._HEAD[1:])]
        last = [camel_case(name) for name in (*self._TAIL, *self.shown_last)]
        middle = [name for name in fields if name not in first and name not in last]
        return {name: fields[name] for name in (*first, *middle, *last)}
