"""A worker process and the tasks it runs: the one place that composes them.

Every long-running worker command runs here: ``consume`` (the consumers, and with ``--with`` the relay, the cron
loop and the job sweeper beside them: ``make run``'s ``worker``), ``relay_outbox``, ``cron_loop`` and
``sweep_jobs --every`` (one task each: the Kubernetes chart's Deployments, each scaled on its own). What such a
process adds to every task (a metrics endpoint, a health probe) belongs in ``run_process``.

A task is ``async def task(stop) -> object`` that returns once ``stop`` is set. The tasks a worker can run beside
its consumers are registered by name (``register_task``): this package registers the outbox relay and the cron
loop, the run engine its sweeper (``RunsConfig.ready``), so the worker imports no app.

**Crash behaviour.** Together the tasks keep the behaviour they had as processes of their own: SIGTERM or Ctrl-C
stops every task, each finishing what it has in hand, and the process exits 0. A task that ends or raises before
that is a crash: the others are stopped the same way and the process exits 1, so supervisord (``make run``) or
Kubernetes starts the whole process again, as it restarted the relay alone before; a task never runs on silently
without its siblings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

logger = logging.getLogger(__name__)

Task = Callable[[asyncio.Event], Awaitable[object]]
# Called once per process, when the process starts: what a task needs (settings, connections) is read then.
TaskFactory = Callable[[], Task]

_registered: dict[str, TaskFactory] = {}


def register_task(name: str, factory: TaskFactory) -> None:
    """Make ``name`` a task a worker process can run beside its consumers (``consume --with NAME``)."""
    if name in _registered and _registered[name] is not factory:
        raise ValueError(f"a worker task named {name!r} is registered already")
    _registered[name] = factory


def registered_tasks() -> dict[str, TaskFactory]:
    _register_own_tasks()
    return dict(_registered)


def _register_own_tasks() -> None:
    """The relay and the cron loop, this package's own (registered on first use: importing this module stays cheap)."""
    if "relay" not in _registered:
        register_task("relay", relay_task)
    if "cron" not in _registered:
        register_task("cron", cron_task)


def relay_task(*, batch_size: int = 100) -> Task:
    """The outbox relay (``estafette.queue.outbox.OutboxRelay``) until stopped."""
    from estafette.queue.jetstream import QueueSettings
    from estafette.queue.outbox import OutboxRelay

    relay = OutboxRelay(QueueSettings.from_django(), batch_size=batch_size)

    async def run(stop: asyncio.Event) -> None:
        # The rows this process's consumers write are claimed and published on commit by this relay too, so the
        # process needs no second relay on a thread (``start_relay_in_process``).
        await relay.run(stop, claim_on_commit=True)
        logger.info("relay stopped after publishing %d message(s)", relay.published)

    return run


def cron_task() -> Task:
    """The cron loop (``estafette.queue.cron.run_cron_loop``): a tick into the outbox every minute until stopped."""
    from estafette.queue.cron import run_cron_loop

    async def run(stop: asyncio.Event) -> None:
        logger.info("cron loop: queueing a tick (outbox) at the start of every minute")
        sent = await run_cron_loop(stop)
        logger.info("cron loop stopped after %d tick(s)", sent)

    return run


PassResult = TypeVar("PassResult")


def periodic_task(
    *,
    what: str,
    every: float,
    run_pass: Callable[[], PassResult],
    report: Callable[[PassResult], None] = lambda result: None,
) -> Task:
    """A task that calls ``run_pass`` every ``every`` seconds until stopped, and ``report``s each pass's result.

    Each pass runs on one thread of its own (the ORM is sync; one thread keeps one database connection, closed before
    and after a pass so a restarted database is reconnected). A pass that raises (a database outage) is logged and
    the next one retries: the loop never ends on it, since a periodic duty that stops silently is worse than one
    that keeps failing loudly."""
    if every <= 0:
        raise ValueError(f"the {what}'s interval is a number of seconds above 0, e.g. 5")
    from django.db import close_old_connections, connections

    def one_pass() -> PassResult:
        close_old_connections()
        try:
            return run_pass()
        finally:
            close_old_connections()

    async def run(stop: asyncio.Event) -> int:
        passes = 0
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=what.replace(" ", "-")) as thread:
            logger.info("%s: a pass every %g s until stopped", what, every)
            while not stop.is_set():
                started = loop.time()
                try:
                    result = await loop.run_in_executor(thread, one_pass)
                except Exception as error:  # noqa: BLE001 - a database outage must not end the loop
                    failure = f"{type(error).__name__}: {error}"
                    logger.warning("%s: pass failed (%s); retrying in %g s", what, failure, every)
                else:
                    passes += 1
                    report(result)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, every - (loop.time() - started)))
            await loop.run_in_executor(thread, connections.close_all)
        logger.info("%s stopped after %d pass(es)", what, passes)
        return passes

    return run


def tasks_named(names: list[str]) -> dict[str, Task]:
    """The registered tasks ``names``, made for this process. ValueError names the unknown ones and the known."""
    registry = registered_tasks()
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(f"unknown worker task {', '.join(unknown)}; registered: {', '.join(sorted(registry))}")
    return {name: registry[name]() for name in names}


class TaskCrashed(Exception):
    """A task ended before the process was asked to stop."""


async def run_tasks(tasks: Mapping[str, Task], *, handle_signals: bool = True) -> None:
    """Run ``tasks`` on this event loop until SIGTERM/SIGINT (``handle_signals``) or until one of them ends; then
    stop the others and wait for them. Raises ``TaskCrashed`` when a task ended (or raised) before the stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, _request_stop, stop, signum)
    running = {asyncio.create_task(_call(task, stop), name=name): name for name, task in tasks.items()}
    stopping = asyncio.ensure_future(stop.wait())
    crashed: list[str] = []
    try:
        pending = set(running)
        while pending:
            watched = pending if stopping.done() else pending | {stopping}
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopping}:
                pending.discard(task)
                error = task.exception()
                if stop.is_set() and error is None:
                    continue  # stopped as asked
                crashed.append(running[task])
                logger.error(
                    "worker task %s %s: the process stops its other tasks, exits 1 and is started again",
                    running[task],
                    f"failed ({type(error).__name__}: {error})" if error else "ended before the process was stopped",
                    exc_info=error,
                )
                stop.set()
    finally:
        stopping.cancel()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
    if crashed:
        raise TaskCrashed(", ".join(crashed))


async def _call(task: Task, stop: asyncio.Event) -> object:
    return await task(stop)


def run_process(tasks: Mapping[str, Task]) -> None:
    """Run ``tasks`` (``run_tasks``) as this process's whole life: exit 0 once stopped by a signal, 1 after a crash."""
    if not tasks:
        raise ValueError("a worker process needs at least one task")
    from estafette.lib.metrics_server import start_metrics_server

    start_metrics_server()  # this process's own counters, for the chart's PodMonitor (ESTAFETTE_METRICS_PORT)
    try:
        asyncio.run(run_tasks(tasks))
    except TaskCrashed as crash:
        raise SystemExit(f"worker task {crash} crashed; exiting so that the process is started again") from None


def _request_stop(stop: asyncio.Event, signum: int) -> None:
    if not stop.is_set():
        logger.info("received %s: finishing the events in hand, then stopping", signal.Signals(signum).name)
    stop.set()
