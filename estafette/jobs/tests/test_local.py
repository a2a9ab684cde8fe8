"""The local process runner: the contract, plus what only local processes have (signals, files, env).

Every test runs twice: with jobs started cold (a fresh interpreter under the shell wrapper) and warm (handed to a
pre-started standby that forks the job); the warm variant checks that a standby really launched each job.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.executors.sandbox import SandboxSupport
from estafette.jobs.base import JobSpec, JobStatus
from estafette.jobs.local import DEFAULT_COMMAND, LocalProcessJobRunner
from estafette.jobs.tests.contract import JobRunnerContract, make_spec
from tests.tooling.waiting import wait_until

FAKE_BUILDER = Path(__file__).with_name("fake_builder.py")
REPO = Path(__file__).resolve().parents[3]


class LocalDriver:
    def __init__(self, runner: LocalProcessJobRunner) -> None:
        self.runner = runner

    def received(self, job_name: str) -> tuple[dict[str, Any], str]:
        workspace = self.runner.workspace(job_name)
        wait_until((workspace / "started").exists, timeout=30, what=f"{job_name} to start")
        launcher = json.loads((workspace / "job.json").read_text())["startedBy"]
        assert launcher == ("standby" if self.runner.standbys is not None else "spawn")
        assert (workspace / "claim").read_text() == launcher + "\n"
        return json.loads((workspace / "received-config.json").read_text()), (workspace / "received-key").read_text()

    def finish(self, job_name: str, *, exit_code: int) -> None:
        (self.runner.workspace(job_name) / "release").write_text(str(exit_code))

    def is_stopped(self, job_name: str) -> bool:
        workspace = self.runner.workspace(job_name)
        return not workspace.exists() or not self.runner.is_process_alive(job_name)

    def leftovers(self, job_name: str) -> list[str]:
        workspace = self.runner.workspace(job_name)
        return sorted(p.name for p in workspace.iterdir()) if workspace.exists() else []


@pytest.fixture(params=["cold", "warm"])
def local_runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalProcessJobRunner]:
    runner = LocalProcessJobRunner(
        jobs_dir=tmp_path / "jobs",
        command=[sys.executable, str(FAKE_BUILDER), "{config}"],
        grace_seconds=0.5,
        python_path=(REPO,),
        standbys=2 if request.param == "warm" else 0,
    )
    if runner.standbys is not None:
        assert runner.standbys.wait_until_ready(timeout=60), "the standbys did not start"
    yield runner
    runner.close()


@pytest.fixture
def cleanup_jobs(local_runner: LocalProcessJobRunner):
    yield
    if local_runner.jobs_dir.exists():
        for workspace in local_runner.jobs_dir.iterdir():
            local_runner.cleanup(workspace.name)


class TestLocalProcessJobRunnerContract(JobRunnerContract):
    @pytest.fixture
    def runner(self, local_runner: LocalProcessJobRunner, cleanup_jobs: None) -> LocalProcessJobRunner:
        return local_runner

    @pytest.fixture
    def driver(self, runner: LocalProcessJobRunner) -> LocalDriver:
        return LocalDriver(runner)


pytestmark = pytest.mark.usefixtures("cleanup_jobs")


def started(runner: LocalProcessJobRunner, spec: JobSpec) -> Path:
    runner.start(spec)
    LocalDriver(runner).received(spec.name)
    return runner.workspace(spec.name)


def test_it_sends_sigterm_first_so_the_builder_can_report_canceled(local_runner: LocalProcessJobRunner) -> None:
    # given
    workspace = started(local_runner, make_spec())

    # when
    local_runner.cancel(workspace.name)

    # then
    wait_until((workspace / "got-sigterm").exists, what="the builder to get SIGTERM")
    wait_until(lambda: not local_runner.is_process_alive(workspace.name), what="the job to end")
    assert local_runner.status(workspace.name) is JobStatus.CANCELED
    assert (workspace / "exit-code").read_text().strip() == "0"


def test_it_kills_a_job_that_ignores_sigterm_after_the_grace_period(local_runner: LocalProcessJobRunner) -> None:
    # given: grace period 0.5 s, a builder that ignores SIGTERM
    workspace = started(local_runner, make_spec(config={"testIgnoreSigterm": True}))

    # when
    canceled_at = time.monotonic()
    local_runner.cancel(workspace.name)
    wait_until(lambda: not local_runner.is_process_alive(workspace.name), timeout=10, what="the job to be killed")

    # then
    assert 0.4 <= time.monotonic() - canceled_at < 5
    assert (workspace / "exit-code").read_text().strip() == str(128 + signal.SIGKILL)
    assert local_runner.status(workspace.name) is JobStatus.CANCELED


def test_it_writes_configuration_and_key_readable_by_the_owner_only(local_runner: LocalProcessJobRunner) -> None:
    # given / when
    workspace = started(local_runner, make_spec())

    # then
    assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
    assert stat.S_IMODE((workspace / "builder-config.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((workspace / "secret-key").stat().st_mode) == 0o600


def test_the_job_does_not_inherit_the_servers_settings_and_secrets(
    local_runner: LocalProcessJobRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setenv("ESTAFETTE_SECRET_KEY", "the-installation-secret")
    monkeypatch.setenv("ESTAFETTE_DATABASE_URL", "postgresql://u:pw@db/estafette")
    monkeypatch.setenv("ESTAFETTE_NATS_PASSWORD", "the-nats-password")  # a stage must not publish events
    monkeypatch.setenv("ESTAFETTE_BUILDER_EXECUTOR", "host")  # the builder's own setting

    # when
    workspace = started(local_runner, make_spec())

    # then
    environment = json.loads((workspace / "environment.json").read_text())
    server_settings = [n for n in environment if n.startswith("ESTAFETTE_") and not n.startswith("ESTAFETTE_BUILDER_")]
    assert server_settings == []
    assert "the-installation-secret" not in json.dumps(environment)
    assert "the-nats-password" not in json.dumps(environment)
    assert environment["ESTAFETTE_BUILDER_EXECUTOR"] == "host"
    assert environment["BUILDER_CONFIG_PATH"] == str(workspace / "builder-config.json")
    assert environment["ESTAFETTE_BUILDER_SECRET_KEY_FILE"] == str(workspace / "secret-key")
    assert environment["ESTAFETTE_BUILDER_WORKSPACE"] == str(workspace / "work")
    assert environment["ESTAFETTE_BUILDER_JOB_NAME"] == workspace.name


def test_the_job_learns_what_the_sandbox_hides_and_the_operators_opt_in_to_run_unsandboxed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an operator who hides a path of their own and let jobs run unsandboxed where no sandbox can be made
    monkeypatch.setenv("ESTAFETTE_BUILDER_SANDBOX_HIDDEN_PATHS", "/srv/operator-secrets")
    runner = LocalProcessJobRunner(
        jobs_dir=tmp_path / "jobs",
        command=[sys.executable, str(FAKE_BUILDER), "{config}"],
        python_path=(REPO,),
        sandbox_hidden_paths=[tmp_path, REPO],
        host_executor_unsandboxed=True,
    )
    # when the consumers start it, and it starts a job
    runner.prestart()
    try:
        workspace = started(runner, make_spec())
        environment = json.loads((workspace / "environment.json").read_text())
    finally:
        for job in (tmp_path / "jobs").iterdir():
            runner.cleanup(job.name)
    # then the job was told both (a server setting is otherwise never passed on)
    assert environment["ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED"] == "true"
    assert environment["ESTAFETTE_BUILDER_SANDBOX_HIDDEN_PATHS"].split(":") == [
        "/srv/operator-secrets",
        str(tmp_path),
        str(REPO),
    ]


@pytest.mark.parametrize(
    ("support", "unsandboxed", "level", "says"),
    [
        (SandboxSupport(True), False, "INFO", "host executor: stages run sandboxed"),
        (
            SandboxSupport(False, "no bwrap"),
            False,
            "ERROR",
            "stages cannot be sandboxed here (no bwrap): builds on"
            " the host executor will be refused; install bubblewrap",
        ),
        (
            SandboxSupport(False, "no bwrap"),
            True,
            "WARNING",
            "ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED=true and stages"
            " cannot be sandboxed here (no bwrap): builds on the host executor run unsandboxed",
        ),
    ],
)
def test_the_start_up_says_whether_stages_are_sandboxed_refused_or_run_unsandboxed(
    support: SandboxSupport, unsandboxed: bool, level: str, says: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given a machine that can or cannot sandbox stages, and the operator's choice
    runner = LocalProcessJobRunner(jobs_dir=tmp_path / "jobs", host_executor_unsandboxed=unsandboxed)
    # when the consumers start
    with caplog.at_level("INFO", logger="estafette.jobs.local"):
        runner.log_sandbox_support(probe=lambda: support)
    # then one line says what will happen to builds
    (record,) = [record for record in caplog.records if record.name == "estafette.jobs.local"]
    assert (record.levelname, record.getMessage()[: len(says)]) == (level, says)


def test_the_job_is_told_to_hide_the_data_dir_and_not_to_run_unsandboxed_by_default(
    local_runner: LocalProcessJobRunner, tmp_path: Path
) -> None:
    # given the runner as the settings make it: the data dir, the checkout and the configuration file hidden
    local_runner.sandbox_hidden_paths = (str(tmp_path), str(REPO))
    # when it starts a job
    workspace = started(local_runner, make_spec())
    # then the job hides them, and may not run stages unsandboxed
    environment = json.loads((workspace / "environment.json").read_text())
    assert environment["ESTAFETTE_BUILDER_SANDBOX_HIDDEN_PATHS"].split(":") == [str(tmp_path), str(REPO)]
    assert "ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED" not in environment


def test_a_job_whose_processes_vanished_without_an_exit_code_is_failed(local_runner: LocalProcessJobRunner) -> None:
    # given
    workspace = started(local_runner, make_spec())
    state = json.loads((workspace / "job.json").read_text())

    # when: the whole process group is killed outright (out of memory, a reboot)
    os.killpg(state["pid"], signal.SIGKILL)

    # then
    wait_until(lambda: local_runner.status(workspace.name) is JobStatus.FAILED, what="the job to count as failed")
    assert not (workspace / "exit-code").exists()


def test_cleanup_kills_what_the_builder_started_too(local_runner: LocalProcessJobRunner) -> None:
    # given: a builder with a child process
    workspace = started(local_runner, make_spec(config={"testSpawnChild": True}))
    child = int((workspace / "child-pid").read_text())

    # when
    local_runner.cleanup(workspace.name)

    # then
    wait_until(lambda: not _running(child), what="the child to be killed")
    assert not workspace.exists()


def test_when_the_builder_ends_what_it_left_running_is_stopped(local_runner: LocalProcessJobRunner) -> None:
    # given
    workspace = started(local_runner, make_spec(config={"testSpawnChild": True}))
    child = int((workspace / "child-pid").read_text())

    # when
    (workspace / "release").write_text("0")

    # then: as when a pod ends
    wait_until(lambda: local_runner.status(workspace.name) is JobStatus.SUCCEEDED, what="the job to end")
    wait_until(lambda: not _running(child), what="the child to be killed")


def test_stop_all_sends_sigterm_to_every_job_and_returns_once_they_ended(local_runner: LocalProcessJobRunner) -> None:
    # given two running jobs
    first = started(local_runner, make_spec())
    second = started(local_runner, make_spec())
    assert local_runner.running_jobs() == sorted([first.name, second.name])

    # when the system shuts down
    began = time.monotonic()
    stopped = local_runner.stop_all(grace_seconds=30)

    # then both builders got SIGTERM and ended on their own, long before the grace period was over
    assert stopped == sorted([first.name, second.name])
    assert time.monotonic() - began < 10
    assert (first / "got-sigterm").exists() and (second / "got-sigterm").exists()
    assert local_runner.running_jobs() == []
    assert not (first / "canceled").exists(), "a shutdown is not a cancel: the sweeper decides about the run"


def test_stop_all_kills_a_job_still_running_after_the_grace_period(local_runner: LocalProcessJobRunner) -> None:
    # given a builder that ignores SIGTERM and has a child, under a wrapper that would wait a minute before SIGKILL
    local_runner.grace_seconds = 60
    workspace = started(local_runner, make_spec(config={"testIgnoreSigterm": True, "testSpawnChild": True}))
    child = int((workspace / "child-pid").read_text())

    # when
    began = time.monotonic()
    stopped = local_runner.stop_all(grace_seconds=0.5)

    # then the whole process group went after the 0.5 s grace period, not after the wrapper's minute
    assert stopped == [workspace.name]
    assert 0.4 <= time.monotonic() - began < 10
    assert not local_runner.is_process_alive(workspace.name)
    wait_until(lambda: not _running(child), timeout=5, what="the builder's child to be killed")


def test_stop_all_kills_at_once_when_hurried(local_runner: LocalProcessJobRunner) -> None:
    # given a builder that ignores SIGTERM
    local_runner.grace_seconds = 60
    workspace = started(local_runner, make_spec(config={"testIgnoreSigterm": True}))
    hurry = threading.Event()
    threading.Timer(0.3, hurry.set).start()

    # when a second Ctrl-C comes 0.3 s into a 60 s grace period
    began = time.monotonic()
    stopped = local_runner.stop_all(grace_seconds=60, hurry=hurry)

    # then
    assert stopped == [workspace.name]
    assert time.monotonic() - began < 10
    assert not local_runner.is_process_alive(workspace.name)


def test_stop_all_without_jobs_returns_at_once(tmp_path: Path) -> None:
    runner = LocalProcessJobRunner(jobs_dir=tmp_path / "never-made")
    assert runner.stop_all(grace_seconds=60) == []


def test_the_default_command_is_python_m_builder_with_the_configuration_file(settings, tmp_path: Path) -> None:
    # given
    settings.LOCAL_JOB_COMMAND = ""
    settings.LOCAL_JOB_STANDBYS = 0
    settings.DATA_DIR = tmp_path

    # when
    runner = LocalProcessJobRunner.from_settings()

    # then
    assert runner.command == DEFAULT_COMMAND
    workspace = tmp_path / "jobs" / "x"
    assert runner._command(workspace) == [
        *(sys.executable, "-m", "builder", "job", "--config", str(workspace / "builder-config.json")),
        *("--secret-key-file", str(workspace / "secret-key"), "--workspace", str(workspace / "work")),
    ]
    settings.LOCAL_JOB_COMMAND = "/opt/builder --config {config} --key {secret_key_file}"
    assert LocalProcessJobRunner.from_settings()._command(Path("/w")) == [
        "/opt/builder",
        "--config",
        "/w/builder-config.json",
        "--key",
        "/w/secret-key",
    ]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
