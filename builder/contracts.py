"""Wire types shared by the builder and the API: the builder configuration, status events, log batches, step trees.

Every type is a frozen :class:`~builder.wire.Wire` dataclass with ``to_dict()`` / ``from_dict()`` producing and
reading Estafette's camelCase JSON; ``from_dict`` raises :class:`ContractError` naming the offending field (see
:mod:`builder.wire`, the framework, for the rules). Import the types and ``ContractError`` from here.

The contract is versioned: ``contractVersion`` on :class:`BuilderConfig`, :class:`StatusEvent` and :class:`LogBatch`.
Additive changes keep the version; a reader refuses a version newer than :data:`CONTRACT_VERSION`.

Durations are integers in **nanoseconds** (Go ``time.Duration``), timestamps RFC 3339 UTC strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from builder.wire import ContractError, Invalid, Wire

__all__ = [
    "CONTRACT_VERSION",
    "FINAL_STEP_STATUSES",
    "LOG_LINE_TRUNCATED",
    "MAX_LOG_BATCH_LINES",
    "MAX_LOG_LINE_CHARS",
    "MAX_STEP_NAME_CHARS",
    "BotRecord",
    "BuildLogStep",
    "BuildRecord",
    "BuilderConfig",
    "CiServerConfig",
    "ContractError",
    "Credential",
    "EndReport",
    "GitConfig",
    "ImageInfo",
    "JobType",
    "LogBatch",
    "LogLine",
    "ReleaseRecord",
    "Resources",
    "RunStatus",
    "StatusEvent",
    "StatusEventType",
    "StepStatus",
    "StepTree",
    "StepType",
    "StreamType",
    "TailLogLine",
    "TrustedImage",
    "VersionConfig",
    "Wire",
    "aggregate_status",
    "truncate_log_text",
]

CONTRACT_VERSION = 1

JobType = Literal["build", "release", "bot"]
RunStatus = Literal["pending", "running", "succeeded", "failed", "canceling", "canceled"]
StepStatus = Literal["UNKNOWN", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"]
StepType = Literal["stage", "service"]
StreamType = Literal["stdout", "stderr"]
StatusEventType = Literal["updateStatus", "heartbeat"]

FINAL_STEP_STATUSES: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"})


def _check_version(version: int) -> None:
    if version > CONTRACT_VERSION:
        raise Invalid(
            f"{version} is newer than this side understands ({CONTRACT_VERSION}); "
            "upgrade the builder and the API together",
            "contractVersion",
        )


# --- builder configuration --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GitConfig(Wire):
    repo_source: str
    repo_owner: str
    repo_name: str
    repo_branch: str
    repo_revision: str
    # Not in Estafette: where to clone from when it is not https://<source>/<owner>/<name> (local repositories).
    repo_url: str | None = None

    @property
    def full_name(self) -> str:
        """``source/owner/name``, the pipeline name secrets' allow-lists are checked against."""
        return f"{self.repo_source}/{self.repo_owner}/{self.repo_name}"


@dataclass(frozen=True)
class VersionConfig(Wire):
    version: str
    current_counter: int = 0
    max_counter: int = 0
    max_counter_current_branch: int = 0
    major: int | None = None
    minor: int | None = None
    patch: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class BuildRecord(Wire):
    id: str


@dataclass(frozen=True)
class ReleaseRecord(Wire):
    id: str
    name: str
    action: str = ""
    triggered_by: str = ""


@dataclass(frozen=True)
class BotRecord(Wire):
    id: str
    name: str


@dataclass(frozen=True)
class CiServerConfig(Wire):
    """Where the builder reports. ``job_token`` is the bearer token for every URL; it never appears in a repr.

    ``end_url`` (not in Estafette; None from an API that has no such route) takes the run's last log batch and its
    final status in one request (:class:`EndReport`); a builder given none sends them to ``logs_url`` and
    ``status_url``."""

    base_url: str
    status_url: str
    logs_url: str
    job_token: str = field(repr=False)
    end_url: str | None = None


@dataclass(frozen=True)
class Credential(Wire):
    name: str
    type: str
    additional_properties: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class TrustedImage(Wire):
    path: str
    run_privileged: bool = False
    run_docker: bool = False
    allow_commands: bool = False
    injected_credential_types: tuple[str, ...] = ()
    allowed_pipelines: str = ""


@dataclass(frozen=True)
class Resources(Wire):
    """Per-stage container limits (not in Estafette, whose limits are the pod's). ``None`` means unlimited."""

    cpus: float | None = None
    memory_bytes: int | None = None


@dataclass(frozen=True)
class BuilderConfig(Wire):
    """The only input of a job. ``manifest`` is ``Manifest.to_dict()``; ``stages`` are ``Stage.to_dict()`` items."""

    job_type: JobType
    git: GitConfig
    version: VersionConfig
    ci_server: CiServerConfig
    manifest: dict[str, Any] = field(default_factory=dict)
    stages: tuple[dict[str, Any], ...] = ()
    trigger_events: tuple[dict[str, Any], ...] = ()
    credentials: tuple[Credential, ...] = ()
    trusted_images: tuple[TrustedImage, ...] = ()
    build: BuildRecord | None = None
    release: ReleaseRecord | None = None
    bot: BotRecord | None = None
    job_name: str = ""
    track: str = "stable"
    resources: Resources | None = None
    # The request that started the run (the API's X-Request-ID): the builder sends it with its reports and prints it,
    # so the API's, the consumers' and the job's log lines of one run are found together.
    request_id: str = ""
    contract_version: int = CONTRACT_VERSION

    def _check(self) -> None:
        _check_version(self.contract_version)
        if len(self.request_id) > 100 or not self.request_id.isprintable():
            raise Invalid("must be at most 100 printable characters", "requestID")
        if getattr(self, self.job_type) is None:
            raise Invalid(f"is required for jobType {self.job_type}", self.job_type)

    @property
    def run_id(self) -> str:
        """The id of the build, release or bot run this job executes."""
        record = getattr(self, self.job_type)
        return str(record.id)


# --- step tree --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo(Wire):
    name: str
    tag: str = "latest"
    is_pulled: bool = False
    image_size: int = 0
    pull_duration: int = 0
    error: str = ""
    is_trusted: bool = False
    has_injected_credentials: bool = False


@dataclass(frozen=True)
class LogLine(Wire):
    line: int
    timestamp: str
    stream_type: StreamType
    text: str

    def _check(self) -> None:
        if self.line < 0:
            raise Invalid(f"must be at least 0, got {self.line}", "line")


# The longest log line kept, in characters. A longer one (a stage printing megabytes without a newline) is cut there
# and ends with LOG_LINE_TRUNCATED; the rest of it, up to its newline, is dropped. The builder cuts as it reads a
# stage's output (builder/output.py), the API again for whatever a sender posts (runs/logs.py), after masking it: a
# secret the cut would split is masked whole first.
MAX_LOG_LINE_CHARS = 64 * 1024
LOG_LINE_TRUNCATED = f" … [line truncated: longer than {MAX_LOG_LINE_CHARS} characters]"


def truncate_log_text(text: str, *, limit: int = MAX_LOG_LINE_CHARS) -> str:
    """``text`` cut to ``limit`` characters plus :data:`LOG_LINE_TRUNCATED`; unchanged when it fits or was cut so."""
    if len(text) <= limit or (len(text) == limit + len(LOG_LINE_TRUNCATED) and text.endswith(LOG_LINE_TRUNCATED)):
        return text
    return text[:limit] + LOG_LINE_TRUNCATED


@dataclass(frozen=True)
class BuildLogStep(Wire):
    """One stage, parallel stage (in ``nested_steps``, depth 1) or service (in ``services``) of a run's log."""

    step: str
    depth: int = 0
    run_index: int = 0
    image: ImageInfo | None = None
    duration: int | None = None
    exit_code: int | None = None
    status: StepStatus = "UNKNOWN"
    auto_injected: bool = False
    log_lines: tuple[LogLine, ...] = ()
    nested_steps: tuple[BuildLogStep, ...] = ()
    services: tuple[BuildLogStep, ...] = ()


# What the API's log store keeps (its columns): a step's name and its parent stage's name, and the lines one batch may
# hold (the builder's reporter seals its batches well below: builder/reporting.py).
MAX_STEP_NAME_CHARS = 256
MAX_LOG_BATCH_LINES = 10_000


MAX_USAGE = 2.0**53  # any measured CPU time, core count or byte count is far below; refuses inf too


@dataclass(frozen=True)
class TailLogLine(Wire):
    """One live update of a step: a log line, or a change of status, image, exit code or duration.

    ``parent_stage`` names the enclosing stage for parallel stages (``type="stage"``, depth 1) and for services
    (``type="service"``, same depth as the stage they belong to).
    """

    step: str
    parent_stage: str = ""
    type: StepType = "stage"
    depth: int = 0
    run_index: int = 0
    log_line: LogLine | None = None
    image: ImageInfo | None = None
    duration: int | None = None
    exit_code: int | None = None
    status: StepStatus | None = None
    auto_injected: bool | None = None
    # On a step's final update, where the executor measured it (builder/usage.py): CPU time and peak memory.
    cpu_seconds: float | None = None
    memory_max_bytes: int | None = None

    def _check(self) -> None:
        # Runs once per line of every batch the API receives: the common case costs a few comparisons.
        step = self.step
        if not step or len(step) > MAX_STEP_NAME_CHARS or step.isspace():
            raise Invalid(f"must be a stage or service name of 1 to {MAX_STEP_NAME_CHARS} characters", "step")
        if len(self.parent_stage) > MAX_STEP_NAME_CHARS:
            raise Invalid(f"must be a stage name of at most {MAX_STEP_NAME_CHARS} characters", "parentStage")
        if self.depth < 0:
            raise Invalid(f"must be at least 0, got {self.depth}", "depth")
        if self.run_index < 0:
            raise Invalid(f"must be at least 0, got {self.run_index}", "runIndex")
        if self.cpu_seconds is not None and not 0 <= self.cpu_seconds < MAX_USAGE:
            raise Invalid(f"must be a number of seconds from 0, got {self.cpu_seconds}", "cpuSeconds")
        if self.memory_max_bytes is not None and not 0 <= self.memory_max_bytes < MAX_USAGE:
            raise Invalid(f"must be a number of bytes from 0, got {self.memory_max_bytes}", "memoryMaxBytes")


@dataclass(frozen=True)
class LogBatch(Wire):
    """Tail lines. ``seq`` counts batches from 1 per builder process; the API stores each seq once (retries repeat it).

    ``attempt`` identifies the builder process (random, the same in all its reports): when Kubernetes re-runs a lost
    pod, the new builder's reports carry a new attempt and the API keeps them as a new log of the same run.
    """

    seq: int
    lines: tuple[TailLogLine, ...]
    attempt: str | None = None
    contract_version: int = CONTRACT_VERSION

    def _check(self) -> None:
        _check_version(self.contract_version)
        if self.seq < 1:
            raise Invalid(f"must be 1 or more, got {self.seq}", "seq")
        if len(self.lines) > MAX_LOG_BATCH_LINES:
            raise Invalid(
                f"a batch holds at most {MAX_LOG_BATCH_LINES} lines, got {len(self.lines)}; send smaller batches",
                "lines",
            )


@dataclass(frozen=True)
class StatusEvent(Wire):
    """The builder's status report (``updateStatus``) or liveness signal (``heartbeat``) for the run it executes.

    The final ``updateStatus`` carries ``log_batches``: how many batches were sent, so the API can tell whether
    it has all of them (seqs 1..log_batches). ``attempt`` is the builder process's attempt (see :class:`LogBatch`).
    """

    event_type: StatusEventType
    job_type: JobType
    id: str
    timestamp: str
    status: RunStatus | None = None
    job_name: str = ""
    log_batches: int | None = None
    attempt: str | None = None
    # On the final status: the run's maxima over its stages (builder/usage.py), Estafette's columns of the same names.
    cpu_max_usage: float | None = None  # cores
    memory_max_usage: float | None = None  # bytes
    contract_version: int = CONTRACT_VERSION

    def _check(self) -> None:
        _check_version(self.contract_version)
        if self.event_type == "updateStatus" and self.status is None:
            raise Invalid("is required for eventType updateStatus", "status")
        for name, value in (("cpuMaxUsage", self.cpu_max_usage), ("memoryMaxUsage", self.memory_max_usage)):
            if value is not None and not (0 <= value < MAX_USAGE):  # also refuses NaN
                raise Invalid(f"must be a number from 0, got {value}", name)


FINAL_RUN_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True)
class EndReport(Wire):
    """The end of a run in one request (not in Estafette): the builder's last log batch, if any lines were left,
    then its final ``updateStatus``, applied by the API in that order and together. Sent after every earlier batch
    was delivered; ``status.log_batches`` counts ``batch`` too. A new route rather than new fields on a batch: an API
    without it answers 404 (the builder then sends both the old way), where an older reader of a batch would have
    ignored a final status it did not know."""

    status: StatusEvent
    batch: LogBatch | None = None
    contract_version: int = CONTRACT_VERSION

    def _check(self) -> None:
        _check_version(self.contract_version)
        if self.status.event_type != "updateStatus" or self.status.status not in FINAL_RUN_STATUSES:
            raise Invalid("must be the final updateStatus: succeeded, failed or canceled", "status")
        if self.batch is not None and self.batch.attempt != self.status.attempt:
            raise Invalid("must be of the status's attempt: one builder process ends its own run", "batch", "attempt")


class StepTree:
    """Folds :class:`TailLogLine` updates into the step tree (mutable; not thread-safe).

    Used by the API to store a run's log and by the builder for its summary. Applying the same lines in the same
    order always gives the same tree; a line for an unknown step creates it.
    """

    def __init__(self) -> None:
        self._steps: list[dict[str, Any]] = []

    def apply_all(self, lines: Iterable[TailLogLine]) -> None:
        for line in lines:
            self.apply(line)

    def apply(self, tail: TailLogLine) -> None:
        node = self._node_for(tail)
        if tail.log_line is not None:
            node["log_lines"].append(tail.log_line)
        for name in ("image", "duration", "exit_code", "status", "auto_injected"):
            value = getattr(tail, name)
            if value is not None:
                node[name] = value

    def _node_for(self, tail: TailLogLine) -> dict[str, Any]:
        if tail.type == "service":
            parent = self._find_or_add(self._level(tail.depth, tail), tail.parent_stage, tail.depth, tail.run_index)
            return self._find_or_add(parent["services"], tail.step, tail.depth, tail.run_index)
        return self._find_or_add(self._level(tail.depth, tail), tail.step, tail.depth, tail.run_index)

    def _level(self, depth: int, tail: TailLogLine) -> list[dict[str, Any]]:
        if depth == 0:
            return self._steps
        # a depth-1 stage lives under its parent stage; a service of a depth-1 stage under that stage's parent
        wrapper_name = tail.parent_stage if tail.type == "stage" else self._wrapper_of(tail.parent_stage)
        wrapper = self._find_or_add(self._steps, wrapper_name, 0, tail.run_index)
        return wrapper["nested_steps"]

    def _wrapper_of(self, nested_name: str) -> str:
        for step in self._steps:
            if any(nested["step"] == nested_name for nested in step["nested_steps"]):
                return str(step["step"])
        return nested_name

    @staticmethod
    def _find_or_add(level: list[dict[str, Any]], name: str, depth: int, run_index: int) -> dict[str, Any]:
        for node in level:
            if node["step"] == name and node["run_index"] == run_index:
                return node
        node = {
            "step": name,
            "depth": depth,
            "run_index": run_index,
            "log_lines": [],
            "nested_steps": [],
            "services": [],
        }
        level.append(node)
        return node

    def steps(self) -> list[BuildLogStep]:
        return [_freeze(node) for node in self._steps]


def _freeze(node: dict[str, Any]) -> BuildLogStep:
    values = dict(node)
    values["log_lines"] = tuple(node["log_lines"])
    values["nested_steps"] = tuple(_freeze(child) for child in node["nested_steps"])
    values["services"] = tuple(_freeze(child) for child in node["services"])
    return BuildLogStep(**values)


def aggregate_status(steps: Iterable[BuildLogStep]) -> RunStatus:
    """The run status Estafette derives from its steps: any CANCELED → canceled; any FAILED → failed; else succeeded.

    Only the last step of each name counts (a re-run replaces an earlier attempt). No steps → succeeded.
    """
    last: dict[str, str] = {}
    for step in steps:
        if step.status == "CANCELED":
            return "canceled"
        last[step.step] = step.status
    return "failed" if "FAILED" in last.values() else "succeeded"
