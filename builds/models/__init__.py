from builds.models.build import Build
from builds.models.logs import LogChunk, LogRecord, LogStep, RunKind, StepKind, StepStatus
from builds.models.runs import (
    ACTIVE_STATUSES,
    ALLOWED_FROM,
    FINAL_STATUSES,
    LOSABLE_STATUSES,
    Run,
    RunStatus,
    nanoseconds,
)

__all__ = [
    "ACTIVE_STATUSES",
    "ALLOWED_FROM",
    "FINAL_STATUSES",
    "LOSABLE_STATUSES",
    "Build",
    "LogChunk",
    "LogRecord",
    "LogStep",
    "Run",
    "RunKind",
    "RunStatus",
    "StepKind",
    "StepStatus",
    "nanoseconds",
]
