"""One crash at a time under ``make run``'s process set: the build goes on, the stack keeps serving.

The repository's Procfile runs under supervisord (``scripts/supervise.py``) with its own nats-server, as ``make run``
starts it. While a build of about 20 s runs in a local job, the test SIGKILLs in turn the worker (the consumers, with
the outbox relay, the cron loop and the job sweeper as tasks of the same process), the gunicorn master and
nats-server, each once the previous one is back. The build must end ``succeeded`` with
every line its stage printed, and the set must still take a push and build it. How long each process took to come
back (a new pid, and serving again) is printed (``pytest -s``) and bounded.

It starts its own copy (own data dir and SQLite file, free ports), so one database tier runs it. About 60 s.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.asserts import printed, steps_of
from tests.harness.system import System, answers_200, start_system
from tests.tooling.waiting import wait_until

pytestmark = [
    pytest.mark.nats,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        os.environ.get("ESTAFETTE_TEST_DB", "sqlite") != "sqlite",
        reason="make run's process set on one database is enough: the sqlite tier runs this once",
    ),
]

LINES = 40  # at least: ~20 s at two lines a second
RELEASE = "go"  # the test puts it in the job's workspace once every process was killed and came back
# Prints a numbered line every half second, at least LINES of them and on until RELEASE exists: the kills happen
# while it runs however slow the machine, and the count says how many lines the log must hold.
COUNT = (
    f'n=0; while [ $n -lt {LINES} ] || [ ! -e {RELEASE} ]; do n=$((n+1)); echo "line $n"; sleep .5; done; '
    'echo "printed $n"'
)
SLOW = f"""\
stages:
  count:
    image: alpine:3.20
    commands:
    - {COUNT}
"""
QUICK = """\
stages:
  hello:
    image: alpine:3.20
    commands:
    - echo "still serving"
"""
# Generous: supervisord restarts at once; the bound only catches a process left down.
COME_BACK_WITHIN_SECONDS = 30


@dataclass
class Recovery:
    name: str
    new_pid_after: float
    serving_after: float


def test_a_build_survives_sigkill_of_each_process_in_turn_and_the_stack_keeps_serving(
    queue_settings: object, tmp_path: Path
) -> None:
    with start_system(queue_settings, tmp_path, own_nats=True) as system:  # type: ignore[arg-type]
        # given a build of ~20 s running in its job, printing a line every half second
        slow = system.repository("acme", "slow", SLOW)
        system.push(slow)
        build = system.wait_for_build("local/acme/slow")
        path = f"/pipelines/local/acme/slow/builds/{build['id']}"
        wait_until(
            lambda: system.api.get(path)["buildStatus"] == "running",
            timeout=60,
            what=f"the build to run\n{system.diagnostics()}",
        )

        # when each process is SIGKILLed in turn, the next once the previous one serves again
        recoveries = []
        for name in ("worker", "web", "nats"):
            assert system.api.get(path)["buildStatus"] == "running", f"the build ended before {name} was killed"
            recoveries.append(_kill_and_wait_back(system, name))

        # then, once the stage may end, the build ends succeeded with every line its stage printed
        workspace = system.processes.data_dir / "jobs" / f"build-acme-slow-{build['id']}" / "work"
        (workspace / RELEASE).touch()
        build = system.wait_until_final(path, "buildStatus", timeout=120)
        assert build["buildStatus"] == "succeeded", system.diagnostics()
        count = steps_of(system.api.get(f"{path}/logs"))["count"]
        assert count["status"] == "SUCCEEDED"
        lines = printed(count)
        total = int(lines[-1].removeprefix("printed "))
        assert total >= LINES
        assert lines == [*(f"line {number}" for number in range(1, total + 1)), f"printed {total}"]

        # and the stack keeps serving: a new push builds through the restarted worker (its relay too) and nats-server
        quick = system.repository("acme", "quick", QUICK)
        system.push(quick)
        next_build = system.wait_for_build("local/acme/quick")
        next_path = f"/pipelines/local/acme/quick/builds/{next_build['id']}"
        assert system.wait_until_final(next_path, "buildStatus", timeout=90)["buildStatus"] == "succeeded"

        print("\nprocess    new pid after   serving again after")
        for recovery in recoveries:
            print(f"{recovery.name:<10} {recovery.new_pid_after:>8.2f} s   {recovery.serving_after:>12.2f} s")
            assert recovery.serving_after < COME_BACK_WITHIN_SECONDS, recovery


def _kill_and_wait_back(system: System, name: str) -> Recovery:
    """SIGKILL the Procfile's process ``name``; wait until supervisord started a new one and it serves again."""
    processes = system.processes
    old = processes.pid(name)
    assert old, f"{name} is not running\n{processes.supervisorctl('status')}"
    consuming_before = processes.log().count(": consuming ")
    killed_at = time.monotonic()
    os.kill(old, signal.SIGKILL)
    wait_until(
        lambda: processes.pid(name) not in (0, old), timeout=COME_BACK_WITHIN_SECONDS, interval=0.05, what=f"{name}"
    )
    new_pid_after = time.monotonic() - killed_at
    serving = {
        "web": lambda: answers_200(f"{processes.url}/liveness"),
        "nats": lambda: _accepts(int(processes.env["ESTAFETTE_NATS_PORT"])),
        # every durable consumer subscribed again (on the restarted nats-server too), and the relay beside them
        "worker": lambda: processes.log().count(": consuming ") >= 2 * consuming_before and processes.running(name),
    }[name]
    wait_until(
        serving,
        timeout=COME_BACK_WITHIN_SECONDS,
        interval=0.05,
        what=f"{name} to serve again\n{processes.supervisorctl('status')}\n{system.diagnostics()}",
    )
    return Recovery(name, new_pid_after, time.monotonic() - killed_at)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
