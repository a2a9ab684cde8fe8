"""The local runner's standby pool: when jobs go warm or cold, and that standbys never outlive the server process.

The job contract itself runs through standbys in ``test_local.py``; here are the pool's own edges, with real
``python -m builder standby`` processes and, where a standby must misbehave, small stand-in programs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.secrets import generate_key
from builder.testing import FakeApi
from estafette.jobs.base import JobSpec, JobStatus
from estafette.jobs.local import LocalProcessJobRunner
from estafette.jobs.standby import StandbyPool
from estafette.jobs.tests.contract import make_spec
from estafette.jobs.tests.test_local import FAKE_BUILDER, REPO, LocalDriver, _running
from tests.tooling.waiting import wait_until


def make_runner(jobs_dir: Path, *, standbys: int = 2) -> LocalProcessJobRunner:
    return LocalProcessJobRunner(
        jobs_dir=jobs_dir,
        command=[sys.executable, str(FAKE_BUILDER), "{config}"],
        grace_seconds=0.5,
        python_path=(REPO,),
        standbys=standbys,
    )


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[LocalProcessJobRunner]:
    made = make_runner(tmp_path / "jobs")
    yield made
    made.close()
    if made.jobs_dir.exists():
        for workspace in made.jobs_dir.iterdir():
            made.cleanup(workspace.name)


def launcher(runner: LocalProcessJobRunner, job_name: str) -> str:
    workspace = runner.workspace(job_name)
    wait_until((workspace / "started").exists, timeout=30, what=f"{job_name} to start")
    return json.loads((workspace / "job.json").read_text())["startedBy"]


def replace_pool(runner: LocalProcessJobRunner, program: str, *, handoff_timeout: float = 15) -> None:
    """Swap the runner's standbys for one running ``program`` (a stand-in that misbehaves)."""
    assert runner.standbys is not None
    runner.standbys.close()
    runner.standbys = StandbyPool(
        size=1,
        environment=runner._base_environment,
        argv=[sys.executable, "-c", program],
        handoff_timeout=handoff_timeout,
    )


def test_a_standby_runs_the_real_builder_job_to_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given the default command (python -m builder job …) with standbys, and a fake API
    monkeypatch.setenv("ESTAFETTE_BUILDER_EXECUTOR", "host")
    runner = LocalProcessJobRunner(jobs_dir=tmp_path / "jobs", python_path=(REPO,), standbys=1)
    assert runner.standbys is not None and runner.standbys.wait_until_ready(timeout=60)
    with FakeApi() as api:
        config = api.build_config(
            build_id="42",
            version="1.0.42",
            revision="b" * 40,
            stages=[{"name": "build", "image": "alpine", "commands": ["echo built in $PWD"]}],
        )
        spec = JobSpec.for_run(
            job_type="build", repo_owner="acme", repo_name="api", run_id=42, config=config, secret_key=generate_key()
        )

        # when the job starts
        name = runner.start(spec)

        # then a standby launched it, the build ran and was reported, and the builder process ended with 0
        try:
            wait_until(lambda: runner.status(name) is JobStatus.SUCCEEDED, timeout=60, what=f"{name} to end")
            assert json.loads((runner.workspace(name) / "job.json").read_text())["startedBy"] == "standby"
            assert api.stored_statuses() == ["running", "succeeded"]
            assert [text for text in api.texts("build") if text.startswith("built in")] != []
        finally:
            runner.close()
            runner.cleanup(name)


def test_it_starts_jobs_cold_until_a_standby_is_ready(runner: LocalProcessJobRunner) -> None:
    # given standbys that never become ready
    replace_pool(runner, "import sys; sys.stdin.read()")

    # when a job starts
    name = runner.start(make_spec())

    # then it starts cold, and runs
    assert launcher(runner, name) == "spawn"
    LocalDriver(runner).finish(name, exit_code=0)
    wait_until(lambda: runner.status(name) is JobStatus.SUCCEEDED, what=f"{name} to succeed")


def test_a_standby_that_died_is_replaced(runner: LocalProcessJobRunner) -> None:
    # given two ready standbys, one of which dies
    assert runner.standbys is not None and runner.standbys.wait_until_ready(timeout=60)
    victim = runner.standbys._idle[0].process
    victim.kill()
    victim.wait()

    # when jobs start
    first = runner.start(make_spec())
    wait_until(lambda: runner.standbys is not None and runner.standbys.ready_count() == 2, timeout=60, what="a new one")
    second = runner.start(make_spec())

    # then the other standby and then the replacement launch them
    assert (launcher(runner, first), launcher(runner, second)) == ("standby", "standby")
    assert victim.pid not in [standby.process.pid for standby in runner.standbys._idle]


def test_a_changed_interpreter_setting_sends_jobs_cold_until_standbys_with_it_are_ready(
    runner: LocalProcessJobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given ready standbys
    assert runner.standbys is not None and runner.standbys.wait_until_ready(timeout=60)
    before = [standby.process.pid for standby in runner.standbys._idle]

    # when the server's environment changes in a way a running interpreter cannot take on
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::DeprecationWarning")
    cold = runner.start(make_spec())

    # then that job starts cold, the standbys are replaced, and the next job is warm with the new setting
    assert launcher(runner, cold) == "spawn"
    wait_until(
        lambda: (
            runner.standbys is not None
            and runner.standbys.ready_count() == 2
            and not {standby.process.pid for standby in runner.standbys._idle} & set(before)
        ),
        timeout=60,
        what="new standbys",
    )
    warm = runner.start(make_spec())
    assert launcher(runner, warm) == "standby"
    environment = json.loads((runner.workspace(warm) / "environment.json").read_text())
    assert environment["PYTHONWARNINGS"] == "ignore::DeprecationWarning"


# A stand-in standby: says it is ready, takes one request, claims the job as a leader would, and never answers.
CLAIMS_AND_HANGS = (
    "import json, sys, time\n"
    "print(json.dumps({'ready': True}), flush=True)\n"
    "request = json.loads(sys.stdin.readline())\n"
    "open(request['claimFile'], 'x').write('standby\\n')\n"
    "time.sleep(60)\n"
)
# One that takes the request and never answers without launching anything.
HANGS = "import json, sys, time\nprint(json.dumps({'ready': True}), flush=True)\nsys.stdin.readline()\ntime.sleep(60)\n"


def test_a_job_a_silent_standby_claimed_is_not_started_again(runner: LocalProcessJobRunner) -> None:
    # given a standby that launches the job (claims it) but does not answer in time
    replace_pool(runner, CLAIMS_AND_HANGS, handoff_timeout=0.3)
    assert runner.standbys is not None and runner.standbys.wait_until_ready(timeout=30)

    # when a job starts
    name = runner.start(make_spec())

    # then the runner does not start it a second time
    workspace = runner.workspace(name)
    assert (workspace / "claim").read_text() == "standby\n"
    time.sleep(0.3)
    assert not (workspace / "job.json").exists()
    assert not (workspace / "started").exists()


def test_a_job_a_silent_standby_did_not_claim_starts_cold(runner: LocalProcessJobRunner) -> None:
    # given a standby that takes the request and does nothing
    replace_pool(runner, HANGS, handoff_timeout=0.3)
    assert runner.standbys is not None and runner.standbys.wait_until_ready(timeout=30)

    # when a job starts
    name = runner.start(make_spec())

    # then the runner starts it cold, once
    assert launcher(runner, name) == "spawn"
    assert (runner.workspace(name) / "claim").read_text() == "spawn\n"


# The server process: a runner with two standbys, one job launched by them; prints the pids, then waits.
SERVER = """
import json, sys, time
from pathlib import Path
from estafette.jobs.local import LocalProcessJobRunner
from estafette.jobs.tests.contract import make_spec
runner = LocalProcessJobRunner(
    jobs_dir=Path(sys.argv[1]), command=[sys.executable, sys.argv[2], "{config}"], python_path=(Path(sys.argv[3]),),
    standbys=2,
)
assert runner.standbys.wait_until_ready(timeout=60)
name = runner.start(make_spec())
state = json.loads((runner.workspace(name) / "job.json").read_text())
print(json.dumps({"standbys": [s.process.pid for s in runner.standbys._idle], "job": name, "leader": state["pid"]}))
sys.stdout.flush()
time.sleep(120)
"""


def test_idle_standbys_end_with_the_server_process_killed_outright_and_its_jobs_go_on(tmp_path: Path) -> None:
    # given a server process with two standbys and a job one of them launched
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "jobs"), str(FAKE_BUILDER), str(REPO)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert server.stdout is not None
    started = json.loads(server.stdout.readline())
    job = make_runner(tmp_path / "jobs", standbys=0)
    try:
        assert all(_running(pid) for pid in started["standbys"])
        wait_until((job.workspace(started["job"]) / "started").exists, what="the job to start")

        # when the server process is SIGKILLed
        server.kill()
        server.wait()

        # then no standby is left behind, and the job runs on (as a cold-started one would)
        wait_until(lambda: not any(_running(pid) for pid in started["standbys"]), timeout=10, what="no standby left")
        assert job.status(started["job"]) is JobStatus.RUNNING
        assert _running(started["leader"])
    finally:
        job.cleanup(started["job"])
        for pid in started["standbys"]:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_dispatch_consumer_starts_the_standbys_before_its_first_job(
    runner: LocalProcessJobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the process's runner with standbys not started yet
    import runs.consumers
    from runs.consumers import JobDispatchConsumer

    assert runner.standbys is not None
    monkeypatch.setattr(runs.consumers, "get_job_runner", lambda: runner)
    time.sleep(0.5)
    assert runner.standbys.ready_count() == 0

    # when `manage.py consume` starts the dispatch consumer
    JobDispatchConsumer().start()

    # then the standbys come up without a job asking for them
    wait_until(lambda: runner.standbys.ready_count() == 2, timeout=60, what="two idle standbys")


def test_closing_the_pool_does_not_wait_for_a_standby_still_starting(tmp_path: Path) -> None:
    # given a standby that is still importing (it never says it is ready), as on a loaded machine
    marker = tmp_path / "started"
    slow = f"open({str(marker)!r}, 'w').close(); import time; time.sleep(60)"
    pool = StandbyPool(size=1, environment=lambda: dict(os.environ), argv=[sys.executable, "-c", slow])
    pool.start()
    wait_until(marker.exists, timeout=30, what="the standby to start")
    # when the server stops (a SIGTERM during start-up)
    started = time.monotonic()
    pool.close()
    # then it stops at once: the keeper is not left waiting for the standby's hello (it would for up to 5 s)
    assert time.monotonic() - started < 2
