"""One worker process, several tasks (``estafette.queue.process``): a stop reaches every task, a task that fails or
ends on its own ends the whole process (so supervisord or Kubernetes starts it again), never runs on without it."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from django.core.management import CommandError, call_command

from estafette.queue.process import Task, TaskCrashed, registered_tasks, run_process, run_tasks, tasks_named


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def until_stopped(self, name: str) -> Task:
        async def task(stop: asyncio.Event) -> None:
            self.events.append(f"{name} started")
            await stop.wait()
            self.events.append(f"{name} stopped")

        return task


def test_a_signal_stops_every_task_and_the_process_ends_cleanly() -> None:
    recorder = Recorder()

    async def signal_once_started(stop: asyncio.Event) -> None:
        await asyncio.sleep(0)  # the other tasks are running
        os.kill(os.getpid(), signal.SIGTERM)
        await stop.wait()
        recorder.events.append("signaller stopped")

    tasks = {"a": recorder.until_stopped("a"), "b": recorder.until_stopped("b"), "signaller": signal_once_started}

    asyncio.run(run_tasks(tasks))  # no TaskCrashed

    assert sorted(recorder.events) == ["a started", "a stopped", "b started", "b stopped", "signaller stopped"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are removed again


def test_a_failing_task_stops_the_others_and_is_reported_as_a_crash() -> None:
    recorder = Recorder()

    async def failing(stop: asyncio.Event) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("database gone")

    with pytest.raises(TaskCrashed, match=r"^relay$"):
        asyncio.run(run_tasks({"consumers": recorder.until_stopped("consumers"), "relay": failing}))

    assert recorder.events == ["consumers started", "consumers stopped"]


def test_a_task_that_returns_before_the_stop_is_a_crash_too() -> None:
    recorder = Recorder()

    async def returns(stop: asyncio.Event) -> None:
        return None

    with pytest.raises(TaskCrashed, match=r"^cron$"):
        asyncio.run(run_tasks({"cron": returns, "sweeper": recorder.until_stopped("sweeper")}))
    assert recorder.events == ["sweeper started", "sweeper stopped"]


def test_the_process_exits_non_zero_after_a_crash_so_that_it_is_started_again() -> None:
    async def failing(stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    with pytest.raises(SystemExit) as exit_:
        run_process({"sweeper": failing})
    assert exit_.value.code == "worker task sweeper crashed; exiting so that the process is started again"


@pytest.mark.django_db
def test_the_relay_cron_sweeper_and_audit_are_registered_and_unknown_tasks_are_refused() -> None:
    assert {"relay", "cron", "sweeper", "audit"} <= set(registered_tasks())
    assert set(tasks_named(["relay", "sweeper"])) == {"relay", "sweeper"}
    with pytest.raises(CommandError, match="unknown worker task nope; registered: audit, cron, relay, sweeper"):
        call_command("consume", "--all", "--with", "relay,nope")
