"""Hostile stages against the host executor's sandbox, with real bubblewrap, at the builder's level.

Each test is an attack a build was seen to make (issue 10), or what an attacker tries next, run through the builder's
own ``PipelineRunner`` and ``HostExecutor``: what the stage printed is in its log, and the test checks that no secret
appears there and no marker file appears on the host. The server's data dir is laid out as
``estafette/jobs/local.py`` lays it out (keys, database, the job's configuration and key, its ``work/``), and lives
in ``/var/tmp``, outside ``/tmp``: the sandbox gives stages a private ``/tmp``, which would hide a data dir there
whatever else it did (the default data dir, ``./var`` of the checkout, is not in ``/tmp`` either).

These run as root here (as CI and most single-machine installations run): the stage's uid is the run's own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.contracts import Credential, GitConfig, TrustedImage
from builder.executors.base import ExecutorError
from builder.executors.host import HostExecutor
from builder.executors.sandbox import SANDBOX_UID_BASE, SANDBOX_UID_COUNT, sandbox_support
from builder.manifest.when import evaluate_when
from builder.plan import ReadinessCheck, ServicePlan, StagePlan
from builder.runner import PipelineRunner, RunContext
from builder.secrets import Masker
from builder.testing import RecordingSink
from tests.tooling.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


@dataclass
class DataDir:
    """A server data dir with one job in it, holding secrets no stage may see."""

    root: Path
    job: Path
    workspace: Path
    secret_key: str
    decryption_key: str
    api_token: str
    job_token: str

    def secrets(self) -> list[str]:
        return [self.secret_key, self.decryption_key, self.api_token, self.job_token]

    def hidden_paths(self) -> list[Path]:
        """What job mode and the local job runner hide: the job's configuration and key, and the data dir."""
        return [self.job / "builder-config.json", self.job / "secret-key", self.root]


def _private(path: Path, text: str, mode: int = 0o600) -> None:
    path.write_text(text)
    path.chmod(mode)


@pytest.fixture
def data_dir() -> Iterator[DataDir]:
    root = Path(tempfile.mkdtemp(prefix="estafette-security-data-", dir="/var/tmp"))
    try:
        values = {name: f"{name}-{secrets.token_hex(12)}" for name in ("key", "decryption", "api", "job")}
        _private(root / "secret-key", values["key"])
        _private(root / "secret-decryption-key", values["decryption"])
        # SQLite makes its database with the umask: world-readable, with every API token in it
        _private(root / "db.sqlite3", f"SQLite format 3\0authtoken_token {values['api']}\n", 0o644)
        job = root / "jobs" / "build-acme-api-1"
        job.mkdir(parents=True, mode=0o700)
        (root / "jobs").chmod(0o700)
        _private(job / "builder-config.json", f'{{"ciServer": {{"jobToken": "{values["job"]}"}}}}')
        _private(job / "secret-key", values["key"])
        (job / "work").mkdir(mode=0o700)
        yield DataDir(
            root=root,
            job=job,
            workspace=job / "work",
            secret_key=values["key"],
            decryption_key=values["decryption"],
            api_token=values["api"],
            job_token=values["job"],
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def executor(data_dir: DataDir) -> Iterator[HostExecutor]:
    """The host executor as job mode makes it: sandboxed (bwrap must work here), hiding the job's files."""
    assert sandbox_support().available, f"the security suite needs a working sandbox: {sandbox_support().reason}"
    chosen = HostExecutor(sandbox=True, hidden_paths=data_dir.hidden_paths())
    chosen.open(run_id="security")
    try:
        yield chosen
    finally:
        chosen.close()


def run(executor: HostExecutor, workspace: Path, *stages: StagePlan, **context: object) -> RecordingSink:
    sink = RecordingSink()
    runner = PipelineRunner(
        RunContext(
            executor=executor, sink=sink, workspace=workspace, evaluate_when=evaluate_when, stop_grace=3.0, **context
        )  # type: ignore[arg-type]
    )
    runner.run(list(stages))
    return sink


def stage(name: str, *commands: str, **fields: object) -> StagePlan:
    fields.setdefault("image", "alpine:3")
    return StagePlan(name=name, commands=commands, **fields)  # type: ignore[arg-type]


def printed(sink: RecordingSink, name: str) -> str:
    """What the stage's commands printed, without the builder's grey echo of each command (``> command``)."""
    return "\n".join(text for text in sink.texts(name) if not text.startswith("\x1b[38;5;245m> "))


def sandbox_processes(uid: int | None = None) -> list[int]:
    """PIDs of processes running as ``uid``, or as any uid of the sandbox's range."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                owner = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
            if owner == uid or (uid is None and SANDBOX_UID_BASE <= owner < SANDBOX_UID_BASE + SANDBOX_UID_COUNT):
                found.append(int(entry))
    return found


def shadow_line_of_root() -> str:
    return next(line for line in Path("/etc/shadow").read_text().splitlines() if line.startswith("root:"))


# --- the attacks ----------------------------------------------------------------------------------------


def test_a_stage_cannot_make_a_device_node_for_the_host_disk_nor_mount_anything(
    executor: HostExecutor, data_dir: DataDir
) -> None:
    # given a stage that finds the host disk's device number and makes itself a node for it on a tmpfs with `dev`
    attack = stage(
        "disk",
        'dev=$(awk \'$5 == "/usr" {print $3}\' /proc/self/mountinfo); echo "disk is $dev"',
        "mkdir -p /tmp/d && mount -t tmpfs -o dev none /tmp/d && echo MOUNTED-TMPFS || true",
        'mknod /tmp/d/disk b "${dev%:*}" "${dev#*:}" && echo MADE-NODE || true',
        "dd if=/tmp/d/disk of=/tmp/sectors bs=512 count=8 2>/dev/null && test -s /tmp/sectors && echo READ-DISK"
        " || true",
        "grep -E '^Cap(Eff|Bnd)' /proc/self/status",
    )
    # when it runs
    sink = run(executor, data_dir.workspace, attack)
    # then it could neither mount nor make the node, and has no capability at all
    text = printed(sink, "disk")
    assert "disk is " in text
    assert "MOUNTED-TMPFS" not in text and "MADE-NODE" not in text and "READ-DISK" not in text
    assert "CapEff:\t0000000000000000" in text and "CapBnd:\t0000000000000000" in text


def test_a_stage_reads_none_of_the_hosts_or_the_servers_secrets(executor: HostExecutor, data_dir: DataDir) -> None:
    # given a stage that looks for the data dir's keys and database, the job's configuration and key (by absolute
    # path and next to its workspace), /etc/shadow and /root
    paths = [
        data_dir.root / "secret-key",
        data_dir.root / "secret-decryption-key",
        data_dir.root / "db.sqlite3",
        data_dir.job / "builder-config.json",
        data_dir.job / "secret-key",
    ]
    attack = stage(
        "snoop",
        *(f"cat {path} || true" for path in paths),
        "cat ../builder-config.json ../secret-key || true",
        "cat /etc/shadow || true",
        "ls -la /root /home /var /srv /opt /mnt 2>&1 || true",
        f"ls {data_dir.root} {REPO} | sed 's/^/LISTED /' || true",
        "id",
    )
    # when it runs
    sink = run(executor, data_dir.workspace, attack)
    # then none of them was readable, and the stage is not root
    text = printed(sink, "snoop")
    for secret in data_dir.secrets():
        assert secret not in text
    assert shadow_line_of_root() not in text
    assert "uid=0" not in text and "uid=2" in text
    assert "LISTED" not in text  # neither the data dir nor the checkout is there


def test_a_data_dir_inside_a_tree_the_operator_shows_stays_hidden(data_dir: DataDir) -> None:
    # given an operator who shows the data dir's parent read-only (tools there), with the data dir and the server's
    # world-readable configuration file in it (both hidden, as the local job runner asks)
    config = data_dir.root.parent / f"{data_dir.root.name}-config.yaml"
    config.write_text(f"credentials: [{{name: hub, password: {data_dir.api_token}}}]\n")
    try:
        executor = HostExecutor(
            sandbox=True,
            hidden_paths=[*data_dir.hidden_paths(), config],
            read_only_paths=[str(data_dir.root.parent)],
        )
        executor.open(run_id="read-only-paths")
        try:
            # when a stage reads the data dir's files and the configuration at their paths
            attack = stage("snoop", f"ls {data_dir.root} | sed 's/^/LISTED /'", f"cat {data_dir.root}/* {config}")
            sink = run(executor, data_dir.workspace, attack)
        finally:
            executor.close()
    finally:
        config.unlink()
    # then it sees an empty directory and an empty file there
    text = printed(sink, "snoop")
    for secret in data_dir.secrets():
        assert secret not in text
    assert "LISTED" not in text


def test_a_stage_sees_neither_the_builders_nor_the_servers_environment(
    executor: HostExecutor, data_dir: DataDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the builder's environment and a server process with secrets in theirs
    builder_secret = f"builder-{secrets.token_hex(8)}"
    server_secret = f"server-{secrets.token_hex(8)}"
    monkeypatch.setenv("ESTAFETTE_BUILDER_SECRET_KEY", builder_secret)
    server = subprocess.Popen(["sleep", "60"], env={"ESTAFETTE_SECRET_KEY": server_secret})
    try:
        pids = f"{os.getpid()} {os.getppid()} {server.pid} 1"
        attack = stage(
            "environ",
            "env",
            f"for pid in {pids}; do tr '\\0' '\\n' < /proc/$pid/environ || true; done",
            "cat /proc/*/environ | tr '\\0' '\\n' || true",
            "ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '",
        )
        # when it runs
        sink = run(executor, data_dir.workspace, attack)
    finally:
        server.kill()
        server.wait()
    # then neither secret is there, nor any ESTAFETTE_ variable the stage was not given
    text = printed(sink, "environ")
    assert builder_secret not in text and server_secret not in text
    assert "ESTAFETTE_BUILDER_SECRET_KEY" not in text and "ESTAFETTE_SECRET_KEY" not in text


def test_a_stage_writes_nothing_outside_its_workspace(executor: HostExecutor, data_dir: DataDir) -> None:
    # given a stage writing a marker everywhere it might reach the host
    marker = f"marker-{secrets.token_hex(6)}"
    targets = [data_dir.root, data_dir.job, "/tmp", "/var/tmp", "/etc", "/usr/local", "/root", REPO, "/dev/shm"]
    attack = stage("write", *(f"echo pwned > {target}/{marker} 2>/dev/null || true" for target in targets), "true")
    # when it runs
    try:
        run(executor, data_dir.workspace, attack)
        # then no marker is on the host
        assert [target for target in targets if os.path.lexists(f"{target}/{marker}")] == []
    finally:
        for target in targets:  # should the sandbox ever fail, leave the machine as it was
            with contextlib.suppress(OSError):
                os.unlink(f"{target}/{marker}")


def test_a_stage_can_neither_signal_nor_trace_the_builder(executor: HostExecutor, data_dir: DataDir) -> None:
    # given a stage that knows the builder's PID
    builder = os.getpid()
    attack = stage(
        "signal",
        f"kill -0 {builder} && echo CAN-SIGNAL-BUILDER || true",
        f"head -c 16 /proc/{builder}/mem && echo CAN-READ-MEMORY || true",
        f"cat /proc/{builder}/maps && echo CAN-READ-MAPS || true",
    )
    # when it runs
    sink = run(executor, data_dir.workspace, attack)
    # then the builder is out of its reach (this test still runs)
    text = printed(sink, "signal")
    assert "CAN-SIGNAL-BUILDER" not in text and "CAN-READ-MEMORY" not in text and "CAN-READ-MAPS" not in text


def test_nothing_a_stage_started_outlives_it(executor: HostExecutor, data_dir: DataDir) -> None:
    # given a stage leaving daemons behind, in the background, a new session, ignoring SIGTERM and SIGHUP
    marker = data_dir.workspace / "daemon-was-here"
    attack = stage(
        "daemons",
        "(sleep 300 &)",
        "setsid sh -c 'trap \"\" TERM HUP; sleep 300' &",
        f"nohup sh -c 'sleep 1; touch {marker.name}' > /dev/null 2>&1 &",
        "echo started",
    )
    # when the stage has ended
    run(executor, data_dir.workspace, attack)
    # then no process of the run's uid is left, so the marker never comes
    assert executor.sandbox_for_run is not None and executor.sandbox_for_run.uid is not None
    assert sandbox_processes(executor.sandbox_for_run.uid) == []
    assert not marker.exists()


def test_a_killed_builder_takes_its_stages_with_it(tmp_path: Path) -> None:
    # given a builder job running a long stage (as the local job runner starts it)
    tag = f"orphan-{secrets.token_hex(6)}"
    script = tmp_path / "start_a_stage.py"
    script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from builder.executors.host import HostExecutor\n"
        "from builder.executors.base import ContainerSpec\n"
        "executor = HostExecutor(sandbox=True)\n"
        "executor.open(run_id='orphans')\n"
        "workspace = Path(sys.argv[1])\n"
        f"spec = ContainerSpec(name='long', image='x', workspace=workspace, work_dir='/w', commands=['ln -s /usr/bin/sleep {tag}', './{tag} 300'])\n"  # noqa: E501
        "executor.start(spec, lambda stream, data: None)\n"
        "print('started', flush=True)\n"
        "sys.stdin.read()\n"
    )
    (tmp_path / "work").mkdir()
    builder = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "work")],
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "TMPDIR": str(tmp_path),
        },  # a killed builder cleans nothing
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )

    def running() -> list[int]:
        found = []
        for pid in (int(entry) for entry in os.listdir("/proc") if entry.isdigit()):
            try:
                if tag.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:
                continue
        return found

    try:
        assert builder.stdout is not None and builder.stdout.readline() == b"started\n", builder.stderr
        wait_until(running, timeout=20, what="the stage to run")
        # when the builder is killed outright
        builder.send_signal(signal.SIGKILL)
        builder.wait(10)
        # then its stage dies too
        wait_until(lambda: not running(), timeout=20, what="the stage to die with the builder")
    finally:
        if builder.poll() is None:
            builder.kill()
        for pid in running():
            os.kill(pid, signal.SIGKILL)


def test_a_service_cannot_reach_another_runs_workspace(data_dir: DataDir, tmp_path: Path) -> None:
    # given run A, whose workspace holds a secret, and run B with a service and a stage looking for it
    other = data_dir.root / "jobs" / "build-acme-other-2" / "work"
    other.mkdir(parents=True)
    (other / "secret.txt").write_text(f"run A's secret {data_dir.secret_key}\n")
    first, second = (HostExecutor(sandbox=True, hidden_paths=data_dir.hidden_paths()) for _ in range(2))
    first.open(run_id="a")
    second.open(run_id="b")
    try:
        snoop = f"{{ cat {other}/secret.txt; ls -la {other}; }} > tried.txt 2>&1 || true"
        service = ServicePlan(
            name="snooper",
            image="alpine:3",
            commands=(snoop, "mv tried.txt found.txt", "sleep 30"),
            readiness=ReadinessCheck(kind="exec", command=("test", "-f", "found.txt"), timeout_seconds=20),
        )
        stage_b = stage("b", f"cat {other}/secret.txt || true", services=(service,))
        sink = run(second, data_dir.workspace, stage_b)
    finally:
        first.close()
        second.close()
    # then neither the service nor the stage of run B read run A's file
    assert sink.step("b").status == "SUCCEEDED", sink.steps()
    assert data_dir.secret_key not in printed(sink, "b")
    assert data_dir.secret_key not in (data_dir.workspace / "found.txt").read_text()
    assert first.sandbox_for_run is not None and second.sandbox_for_run is not None
    assert first.sandbox_for_run.uid != second.sandbox_for_run.uid


def test_an_exec_readiness_probe_runs_as_the_stages_unprivileged_user(
    executor: HostExecutor, data_dir: DataDir
) -> None:
    # given a service whose manifest-supplied exec probe tries what root could do
    probe = (
        "sh",
        "-c",
        "id -u > /estafette-work/probe.txt; grep -E '^CapEff' /proc/self/status >> /estafette-work/probe.txt;"
        " cat /etc/shadow >> /estafette-work/probe.txt 2>/dev/null; umount /proc 2>/dev/null && echo UNMOUNTED"
        " >> /estafette-work/probe.txt; true",
    )
    service = ServicePlan(
        name="db",
        image="postgres:16",
        commands=("sleep 30",),
        readiness=ReadinessCheck(kind="exec", command=probe, timeout_seconds=20),
    )
    # when the stage with that service runs
    sink = run(executor, data_dir.workspace, stage("integration", "true", services=(service,)))
    # then the probe ran (the service got ready) as the run's uid, without capabilities or root's files
    assert sink.step("integration").status == "SUCCEEDED", sink.steps()
    uid, capabilities, *rest = (data_dir.workspace / "probe.txt").read_text().splitlines()
    assert capabilities == "CapEff:\t0000000000000000"
    assert rest == []
    assert int(uid) == executor.sandbox_for_run.uid  # type: ignore[union-attr]


def test_a_trusted_image_that_may_run_privileged_gets_no_privilege_on_the_host(
    executor: HostExecutor, data_dir: DataDir
) -> None:
    # given a trusted image with runPrivileged and runDocker (the docker executor would honour them)
    trusted = TrustedImage(path="bsycorp/kind", run_privileged=True, run_docker=True)
    attack = stage(
        "kind",
        "id -u",
        "grep -E '^CapEff' /proc/self/status",
        "test -S /var/run/docker.sock && echo SOCK || true",
        image="bsycorp/kind:latest",
    )
    # when it runs on the host
    sink = run(executor, data_dir.workspace, attack, trusted_images=(trusted,))
    # then it is the run's unprivileged uid all the same, without capabilities or a container engine
    text = printed(sink, "kind")
    assert "CapEff:\t0000000000000000" in text and "SOCK" not in text
    assert str(executor.sandbox_for_run.uid) in text  # type: ignore[union-attr]


def test_without_a_sandbox_the_host_executor_refuses_unless_the_operator_opted_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a machine where bwrap cannot be found
    from builder.executors import create_executor, sandbox

    monkeypatch.setattr(sandbox, "BWRAP", "/nonexistent/bwrap")
    monkeypatch.setattr(sandbox, "_support_cache", {})
    # when a host executor is asked for, then it refuses, naming the way out
    with pytest.raises(ExecutorError, match=r"refuses to run this build.*ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED=true"):
        create_executor("host", environ={})
    # and with the opt-in it runs unsandboxed, saying so
    chosen = create_executor("host", environ={"ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED": "true"})
    assert isinstance(chosen, HostExecutor) and not chosen.sandbox
    assert "UNSANDBOXED" in chosen.describe()
    with pytest.raises(ExecutorError, match="must be true or false"):
        create_executor("host", environ={"ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED": "yes"})


# --- the git-clone stage ----------------------------------------------------------------------------------------


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    repo = tmp_path / "origin"
    repo.mkdir(mode=0o755)
    identity = ["-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "README").write_text("hello\n")
    subprocess.run(["git", "-C", str(repo), "add", "README"], check=True)
    subprocess.run(["git", "-C", str(repo), *identity, "commit", "-q", "-m", "first"], check=True)
    return repo


def head_of(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def clone_stage(**properties: object) -> StagePlan:
    return StagePlan(name="git-clone", image="extensions/git-clone:stable", custom_properties=dict(properties))


def clone_context(origin: Path) -> dict[str, object]:
    return {
        "git": GitConfig(
            repo_source="github.com",
            repo_owner="acme",
            repo_name="api",
            repo_branch="main",
            repo_revision=head_of(origin),
            repo_url=str(origin),
        ),
        "masker": Masker(["the-token"]),
        "credentials": (Credential(name="src", type="github-api-token", additional_properties={"token": "the-token"}),),
    }


@pytest.mark.parametrize("option", ["revision", "branch", "repo"])
def test_git_clone_options_cannot_smuggle_git_options(
    executor: HostExecutor, data_dir: DataDir, origin: Path, tmp_path: Path, option: str
) -> None:
    # given a git-clone stage whose option is a git option running a command
    marker = tmp_path / f"upload-pack-ran-{option}"
    properties = {option: f"--upload-pack=touch {marker}; true"}
    # when it runs
    sink = run(executor, data_dir.workspace, clone_stage(**properties), **clone_context(origin))
    # then the command never ran, and the stage failed saying why
    assert not marker.exists()
    assert sink.step("git-clone").status == "FAILED"
    assert f"git-clone {option} '--upload-pack=touch {marker}; true' is not allowed" in printed(sink, "git-clone")


def test_git_clone_cannot_check_out_outside_the_workspace(executor: HostExecutor, origin: Path, tmp_path: Path) -> None:
    # given a workspace four levels down, and a git-clone stage aiming four levels up
    workspace = tmp_path / "a" / "b" / "c" / "work"
    workspace.mkdir(parents=True)
    # when it runs
    sink = run(executor, workspace, clone_stage(subdir="../../../../x"), **clone_context(origin))
    # then it wrote nothing there, and failed saying why
    assert not (tmp_path / "x").exists() and not (tmp_path / "a" / "x").exists()
    assert sink.step("git-clone").status == "FAILED"
    assert "must stay inside the workspace" in printed(sink, "git-clone")


@pytest.mark.parametrize(
    ("plant", "properties"),
    [
        # the builder read .git/FETCH_HEAD, and git wrote it, as root
        ("mkdir -p .git && ln -s {data}/secret-key .git/FETCH_HEAD", {}),
        # the builder made src/ and cloned into it as root
        ("ln -s {data} src", {"subdir": "src"}),
    ],
)
def test_git_clone_follows_no_symlink_a_stage_left_to_the_servers_files(
    executor: HostExecutor, data_dir: DataDir, origin: Path, plant: str, properties: dict[str, str]
) -> None:
    # given a stage that left a symlink to the server's files where a later git-clone stage writes
    planting = stage("plant", plant.format(data=data_dir.root))
    # when both run
    sink = run(executor, data_dir.workspace, planting, clone_stage(**properties), **clone_context(origin))
    # then the server's files are as they were, nothing was cloned into the data dir, no secret was shown
    assert (data_dir.root / "secret-key").read_text() == data_dir.secret_key
    assert sorted(path.name for path in data_dir.root.iterdir()) == [
        "db.sqlite3",
        "jobs",
        "secret-decryption-key",
        "secret-key",
    ]
    for secret in data_dir.secrets():
        assert secret not in printed(sink, "git-clone")
