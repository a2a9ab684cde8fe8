"""Helpers for tests of the run engine: the builder endpoints of a run, the jobs started (a recording fake), and
lines for the log store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from builder.contracts import BuilderConfig, LogLine, TailLogLine
from estafette.jobs import JobSpec
from estafette.jobs.testing import FakeJobRunner
from estafette.lib.jobtokens import issue_job_token
from runs.callbacks import callback_urls
from runs.models import Run, RunStatus
from runs.selectors import log_entries_after, log_record_latest


class DjangoBuilderApi:
    """The builder endpoints of one run, for ``builder.tests.api_contract`` (``builder.testing.ApiUnderTest``).

    ``base_url`` is where the API listens (pytest-django's ``live_server``); the run is reported with its own job
    token. What was stored is read back from the database.
    """

    def __init__(self, *, base_url: str, run: Run) -> None:
        self.run, self.kind = run, run.kind
        self.run_id = str(run.pk)
        self.status_url, self.logs_url = callback_urls(kind=run.kind, run_id=run.pk, base_url=base_url)
        self.job_token = issue_job_token(kind=run.kind, run_id=run.pk)

    def stored_statuses(self) -> list[str]:
        """The statuses the run went through as far as the database shows: ``running`` once it started, then its
        final status."""
        self.run.refresh_from_db()
        statuses = [RunStatus.RUNNING.value] if self.run.started_at else []
        if self.run.status not in (RunStatus.PENDING, RunStatus.RUNNING):
            statuses.append(str(self.run.status))
        return statuses

    def stored_lines(self) -> list[TailLogLine]:
        """The tail lines of the run's latest log record, in seq order."""
        record = log_record_latest(run_kind=self.kind, run_id=self.run.pk)
        if record is None:
            return []
        entries, _ = log_entries_after(record=record, after_seq=0, limit=100_000)
        return [TailLogLine.from_dict(entry) for entry in entries]


def output_line(step: str, text: str, number: int = 1, **fields: Any) -> TailLogLine:
    """A TailLogLine holding line ``number`` of ``step``'s output (stdout, at a fixed time); ``fields`` are its other
    TailLogLine fields (``parent_stage``, ``type``, ``depth``, ``run_index``, …)."""
    log_line = LogLine(line=number, timestamp="2030-01-01T00:00:00Z", stream_type="stdout", text=text)
    return TailLogLine(step=step, log_line=log_line, **fields)


def config_of(spec: JobSpec) -> BuilderConfig:
    """The builder configuration a job was started with, parsed as the builder parses it."""
    return BuilderConfig.from_dict(json.loads(json.dumps(spec.config)))


def opened_credential(spec: JobSpec, value: str) -> str:
    """A credential's value as the job's builder opens it: a sealed one with the job's own key."""
    if "estafette.secret(" not in value:
        return value
    from builder.secrets import decrypt, parse_key

    config = config_of(spec)
    return decrypt(value, key=parse_key(spec.secret_key), pipeline=config.git.full_name)


@pytest.fixture
def job_runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeJobRunner]:
    """The runner jobs are started on (``runs.dispatch`` asks ``get_job_runner``): a recording fake."""
    runner = FakeJobRunner()
    monkeypatch.setattr("runs.dispatch.get_job_runner", lambda: runner)
    yield runner
