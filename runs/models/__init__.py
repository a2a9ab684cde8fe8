from runs.models.logs import LogChunk, LogRecord, LogSearchLine, LogStep, StepKind, StepStatus
from runs.models.run import (
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
    "LogChunk",
    "LogRecord",
    "LogSearchLine",
    "LogStep",
    "Run",
    "RunStatus",
    "StepKind",
    "StepStatus",
    "nanoseconds",
]
