"""The host executor's sandbox itself (``builder/executors/sandbox.py``) with real bubblewrap: the single unprivileged
bwrap a builder that is not root uses, exec probes entering it, and what the sandbox refuses to set up.

The suite runs as root (CI): a builder that is not root is played by running the sandbox's command line as another
uid (``setpriv``), as that builder would run it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.tooling.waiting import wait_until

from builder.executors.host import _has_exec_started
from builder.executors.sandbox import Sandbox, SandboxError, sandbox_support

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="plays a builder that is not root with setpriv")


def as_user(uid: int) -> list[str]:
    """What runs the rest of a command line as ``uid``, without capabilities, as a builder that is not root."""
    return ["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups", "--inh-caps=-all"]


@pytest.fixture
def builder_uid() -> int:
    assert sandbox_support().available, sandbox_support().reason
    return 1_900_000_000 + secrets.randbelow(1_000_000)


@pytest.fixture
def server_files(builder_uid: int) -> Iterator[Path]:
    """A data dir and a job's workspace, owned by the builder's (and the server's) own user, outside /tmp."""
    root = Path(tempfile.mkdtemp(prefix="estafette-sandbox-", dir="/var/tmp"))
    try:
        data = root / "data"
        (data / "jobs" / "job" / "work").mkdir(parents=True)
        (data / "secret-key").write_text("the-server-secret\n")
        for path in (root, data, data / "jobs", data / "jobs" / "job", data / "jobs" / "job" / "work"):
            os.chown(path, builder_uid, builder_uid)
        os.chown(data / "secret-key", builder_uid, builder_uid)
        for path in (data, data / "jobs", data / "jobs" / "job", data / "secret-key"):
            path.chmod(0o700 if path.is_dir() else 0o600)
        yield data
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_builder_that_is_not_root_sandboxes_stages_as_itself_without_its_files(
    builder_uid: int, server_files: Path
) -> None:
    # given the sandbox of a builder running as the server's own user, whose data dir it could read itself
    workspace = server_files / "jobs" / "job" / "work"
    sandbox = Sandbox(uid=None, hidden_paths=[server_files])
    script = (
        "id -u; grep -E '^CapEff' /proc/self/status; echo written > out.txt;"
        f" cat {server_files}/secret-key ../../../secret-key 2>&1;"
        " unshare -U true 2>/dev/null && echo MADE-USERNS; ls /proc | grep -cE '^[0-9]+$'"
    )
    argv = sandbox.argv(workspace=workspace, work_dir="/estafette-work", command=["/bin/sh", "-c", script])
    # when a stage runs in it
    result = subprocess.run([*as_user(builder_uid), *argv], capture_output=True, text=True, timeout=60, check=False)
    # then it ran as that user, without capabilities or user namespaces, saw only its own processes, wrote its
    # workspace, and found no data dir
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [str(builder_uid), "CapEff:\t0000000000000000"]
    assert "the-server-secret" not in result.stdout and "MADE-USERNS" not in result.stdout
    assert int(lines[-1]) <= 3  # the script, ls and grep
    assert (workspace / "out.txt").read_text() == "written\n"


def test_an_exec_probe_enters_an_unprivileged_builders_sandbox(builder_uid: int, server_files: Path) -> None:
    # given a service running in the sandbox of a builder that is not root
    workspace = server_files / "jobs" / "job" / "work"
    sandbox = Sandbox(uid=None)
    info_read, info_write = os.pipe()
    argv = sandbox.argv(
        workspace=workspace,
        work_dir="/estafette-work",
        command=["/bin/sh", "-c", "echo up > /tmp/ready; exec sleep 60"],
        info_fd=info_write,
    )
    service = subprocess.Popen([*as_user(builder_uid), *argv], pass_fds=(info_write,))
    os.close(info_write)
    try:
        with os.fdopen(info_read, "rb") as info:
            child = json.loads(info.read())["child-pid"]
        pid = sandbox.command_pid(child)
        assert pid is not None
        wait_until(lambda: _has_exec_started(pid), timeout=20, what="the service to start")
        # when a probe runs in it, as the builder runs it
        check = (
            "until test -f /tmp/ready; do sleep 0.05; done; pwd; grep -E '^(Cap(Eff|Bnd)|NoNewPrivs)' /proc/self/status"
        )
        probe, fd = sandbox.exec_argv(pid, ["sh", "-c", check])
        try:
            result = subprocess.run(
                [*as_user(builder_uid), *probe], capture_output=True, text=True, timeout=30, pass_fds=(fd,), check=False
            )
        finally:
            os.close(fd)
    finally:
        service.kill()
        service.wait()
    # then it saw the service's private /tmp and work dir, without any capability (bwrap made the builder's uid
    # root of the namespace it enters)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "/estafette-work",
        "CapEff:\t0000000000000000",
        "CapBnd:\t0000000000000000",
        "NoNewPrivs:\t1",
    ]


def test_it_refuses_to_hide_a_tree_it_shows_or_to_show_one_it_hides(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="cannot hide /usr"):
        Sandbox(uid=None, hidden_paths=["/usr"])
    with pytest.raises(SandboxError, match="which is inside it"):
        Sandbox(uid=None, hidden_paths=[tmp_path], read_only_paths=[str(tmp_path / "tools")])
    sandbox = Sandbox(uid=None, hidden_paths=[tmp_path / "data"])
    (tmp_path / "data" / "repo").mkdir(parents=True)
    for path in ("/", str(tmp_path), str(tmp_path / "data" / "repo"), "relative/path"):
        with pytest.raises(SandboxError, match="cannot be shown to the sandbox"):
            sandbox.check_read_only_path(path)
    with pytest.raises(SandboxError, match="a sandboxed stage never runs as root"):
        Sandbox(uid=0)


def test_it_mounts_the_workspace_at_the_work_dir_where_it_can(tmp_path: Path) -> None:
    sandbox = Sandbox(uid=None)
    assert sandbox.work_dir_for("/estafette-work", tmp_path) == "/estafette-work"
    assert sandbox.work_dir_for("work/../src", tmp_path) == "/src"
    assert sandbox.work_dir_for("/usr/src/app-that-is-not-there", tmp_path) == str(tmp_path)
    for own in ("/", "/proc", "/tmp", "/tmp/x", "/estafette-entrypoint"):
        assert sandbox.work_dir_for(own, tmp_path) == str(tmp_path)
