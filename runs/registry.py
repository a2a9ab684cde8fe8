"""The run kinds (build, release, bot…) behind one interface: the registry the run engine owns.

Every part of the engine — the builder endpoints, live tails, job dispatch and configuration, job control, the
sweeper, the log store, the run views (``runs.views``) — treats the kinds alike and asks this registry for what
differs. The kinds live in apps above
this one (builds, releases) and register themselves when Django starts (their ``AppConfig.ready``), so the engine
never imports a kind. Adding a kind is one ``RunKind`` subclass registered from its app.

The events a job is given beyond those that fired it (Estafette's *named* triggers, ESTAFETTE.md §1.10) come from the
trigger layer, above the kinds, through the same inversion: ``register_job_events``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils.module_loading import import_string

from builder.manifest import Builder, Manifest, Stage
from estafette.lib.errors import BadRequest, NotFound
from estafette.lib.ids import is_id
from runs.models import Run

# A kind's name is a URL segment, a job name's prefix, a queue subject's token and a log record's run_kind (8 wide).
_NAME = re.compile(r"^[a-z][a-z0-9]{0,7}$")
# What every kind's runs can be sorted by (``sort=``); a kind adds its own fields.
# The repository's fields are the pipeline's (``runs.views`` sorts through it): Estafette's web UI sorts its lists of
# all builds, releases and bots by them.
RUN_SORT_FIELDS = ("inserted_at", "started_at", "updated_at", "status", "repo_source", "repo_owner", "repo_name")


@dataclass(frozen=True)
class RunSection:
    """What of a manifest a run's job executes: its stages, whether a ``git-clone`` stage goes first, and its own
    builder (None: the manifest's)."""

    stages: Sequence[Stage]
    clone: bool
    builder: Builder | None = None


@dataclass(frozen=True)
class RunJob:
    """What a run's job is made of that only its kind knows: the build it runs from and the version it runs as."""

    repo_branch: str
    repo_revision: str
    manifest: str  # the recorded manifest of the build the run runs from (secrets still sealed)
    counter: int  # that build's {{auto}} counter
    version: str  # the version the job runs as: the build's own, or the one a release deploys
    max_counter: int  # the highest counter of the pipeline's builds
    max_counter_current_branch: int  # … of its builds on this branch
    # The part of ``builder.contracts.BuilderConfig`` naming the run: {"build": BuildRecord(…)} and the like.
    config: Mapping[str, Any] = field(default_factory=dict)


class RunKind:
    """One kind of run as the engine sees it. Subclasses name the kind and its model and implement the hooks with
    that kind's own services (which keep its read model and events current)."""

    name: str  # the model's ``kind``
    model: type[Run]
    # Loaded with the run (``select_related``): the pipeline, and the build a release or bot run runs from.
    related: tuple[str, ...] = ("pipeline",)
    # Fields of the run and its ``related`` rows the builder's reports never read (``get_for_report``): JSON columns,
    # decoded for every row loaded, were the largest part of loading the run on each report. A field read anyway is
    # loaded then, by one more query (runs/tests/test_report_queries.py counts them).
    report_deferred: tuple[str, ...] = ()

    # -- how the API lists, finds and shows its runs (``runs.selectors.run_list``…, ``runs.views``) ------
    segment: str  # its runs' URL segment: /api/<segment>, /api/pipelines/…/<segment>/{<name>_id}/logs…
    # The list filters of its own (``filter[<name>]``) and the field each matches; every kind also takes
    # ``filter[status]``, ``since``, ``labels`` and ``search`` (``list_filters``).
    own_filters: Mapping[str, str] = {}
    sort_fields: tuple[str, ...] = RUN_SORT_FIELDS
    # The field holding the git branch a run ran on (the log search's ``branch:``); None: its runs have none.
    branch_field: str | None = None
    list_deferred: tuple[str, ...] = ()  # model fields a list item does not show (long texts)
    # The pipeline read model's count of its runs: the total of the unfiltered list of all pipelines without counting
    # (None: count them).
    pipeline_count_field: str | None = None
    # Its JSON, as DRF serializer classes named by dotted path (typed loosely: the engine does not import DRF): a run
    # in a list and the answer to a cancel; the run as its own route shows it. Named, not imported, because the kinds
    # register when Django starts in every process, and the worker process, which never shows a run, would otherwise
    # hold DRF and drf-spectacular (~13 MB) for nothing: ``serializer`` imports the class on first use.
    serializer_path: str
    detail_serializer_path: str | None = None
    # Whether the API serves each attempt's log (``…/alllogs``, ``…/logsbyid/{logId}``) besides the latest.
    log_attempt_routes: bool = True
    # What a pipeline's statistics (``runs.stats``: durations, CPU, memory) show of each run besides its times:
    # Estafette's JSON name → the model field (a release's ``name`` and ``action``).
    stats_fields: Mapping[str, str] = {}

    def get(self, run_id: int) -> Any:
        """The run with ``related`` loaded; ``NotFound`` when there is none."""
        # get(), not filter().first(): no ORDER BY to compile and sort by (a third of this call's CPU, and the
        # builder's every report makes it)
        try:
            return self.model.objects.select_related(*self.related).get(pk=run_id)
        except self.model.DoesNotExist:
            raise NotFound(f"{self.name} {run_id} not found") from None

    def get_for_report(self, run_id: int) -> Any:
        """``get`` for the builder's reports: without ``report_deferred``."""
        try:
            return self.model.objects.select_related(*self.related).defer(*self.report_deferred).get(pk=run_id)
        except self.model.DoesNotExist:
            raise NotFound(f"{self.name} {run_id} not found") from None

    @property
    def serializer(self) -> type[Any]:
        """The serializer class of a run in a list (``serializer_path``), imported on first use."""
        return import_string(self.serializer_path)

    @property
    def detail_serializer(self) -> type[Any] | None:
        """The serializer class of a run on its own route (``detail_serializer_path``); None: ``serializer``'s."""
        return import_string(self.detail_serializer_path) if self.detail_serializer_path else None

    @property
    def label(self) -> str:
        """How a message names one run: the model's verbose name ("build", "bot run")."""
        return str(self.model._meta.verbose_name)

    @property
    def list_filters(self) -> tuple[str, ...]:
        return ("status", "since", "labels", *self.own_filters, "search", "groups", "organizations")

    @property
    def key_help(self) -> str:
        """What names one run in a URL (``find``), for the API's documentation."""
        return f"the {self.label}'s id"

    def find(self, runs: QuerySet[Any], key: str) -> Any:
        """The run that ``key`` (from a URL) names among ``runs``, or None: the run of that id. Raises ``BadRequest``
        for a key that cannot name a run."""
        if not is_id(key):
            raise BadRequest(f"{self.label} id must be a number, got {key!r}")
        return runs.filter(pk=int(key)).first()

    def log_fields(self, run: Any) -> dict[str, str]:
        """What the log document (``runs.log_document``) says of its run: its id as ``buildID``, ``releaseID``…"""
        return {f"{self.name}ID": str(run.pk)}

    # -- transitions: the kind's services ---------------------------------------------------------------
    def start(self, run: Any, now: datetime | None) -> bool:
        """pending → running."""
        raise NotImplementedError

    def finish(self, run: Any, status: str, now: datetime | None) -> bool:
        """→ succeeded, failed or canceled."""
        raise NotImplementedError

    def cancel(self, run: Any, now: datetime | None) -> Any:
        """The API's cancel (pending → canceled, running → canceling…); ``Conflict`` once final."""
        raise NotImplementedError

    def refresh(self, run: Any, now: datetime | None) -> None:
        """After a change made outside the kind's services (the sweeper losing a pending run): its read model."""

    # -- its job -----------------------------------------------------------------------------------------
    def job(self, run: Any) -> RunJob:
        """The build the run's job runs from, the version it runs as and its record in the builder config."""
        raise NotImplementedError

    def section(self, run: Any, manifest: Manifest) -> RunSection | None:
        """The part of ``manifest`` the run executes; None when the manifest has none for it (no stages run)."""
        raise NotImplementedError

    def secrets_manifest(self, run: Any) -> str:
        """The manifest whose secrets the run's logs may show (masked again by the API): what its job was given."""
        raise NotImplementedError


_kinds: dict[str, RunKind] = {}


def register_run_kind(kind: RunKind) -> None:
    """Register a kind (from its app's ``ready``). Raises ``ValueError`` for a name the engine cannot carry or a
    second kind of the same name."""
    if not _NAME.match(kind.name) or kind.name != kind.model.kind:
        raise ValueError(f"a run kind is named by its model's kind, a lowercase word of 8 at most, got {kind.name!r}")
    if kind.name in _kinds and type(_kinds[kind.name]) is not type(kind):
        raise ValueError(f"run kind {kind.name!r} is registered already")
    _kinds[kind.name] = kind


def run_kind(name: str) -> RunKind:
    """The registered kind; ``NotFound`` for an unknown name (it comes from a URL or a message)."""
    try:
        return _kinds[name]
    except (KeyError, TypeError):
        known = ", ".join(_kinds) or "none"
        raise NotFound(f"unknown run kind {name!r}; expected one of {known}") from None


def run_kinds() -> list[RunKind]:
    return list(_kinds.values())


# -- the events a job is given beyond those that fired it -----------------------------------------------


class MissingJobEvent(Exception):
    """An event the run's job needs does not exist (a named trigger's pipeline has no succeeded build): Estafette
    does not start such a job."""


# (manifest, pipeline full name, the run's fired events) -> the extra events; raises MissingJobEvent
JobEvents = Callable[[Manifest, str, Sequence[Mapping[str, Any]]], list[dict[str, Any]]]
_job_events: list[JobEvents] = []


def register_job_events(provider: JobEvents) -> None:
    """Add a source of extra job events (the trigger layer's named triggers, from its app's ``ready``)."""
    if provider not in _job_events:
        _job_events.append(provider)


def job_events(
    *, manifest: Manifest, pipeline_full_name: str, fired: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Every registered provider's extra events, in registration order. Raises ``MissingJobEvent``."""
    events: list[dict[str, Any]] = []
    for provider in _job_events:
        events.extend(provider(manifest, pipeline_full_name, [*fired, *events]))
    return events


# -- the credentials a job clones with (a forge's token) ---------------------------------------------------------------

# A forge's integration (above every layer) knows how a job clones its repositories: given the pipeline, the
# credentials for that (a GitHub App's installation token), fetched when the job is configured and never stored.
CloneCredentials = Callable[[Any], Sequence[Any]]
_clone_credentials: list[CloneCredentials] = []


def register_clone_credentials(provider: CloneCredentials) -> None:
    """Add a source of clone credentials (``builder.contracts.Credential``s for a pipeline), from an integration's
    ``ready``."""
    if provider not in _clone_credentials:
        _clone_credentials.append(provider)


def clone_credentials(pipeline: Any) -> list[Any]:
    """Every registered provider's credentials for a job of ``pipeline``, in registration order. A provider that
    cannot answer now raises (the dispatch is retried)."""
    return [credential for provider in _clone_credentials for credential in provider(pipeline)]
