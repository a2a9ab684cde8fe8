"""``python -m builder standby``: the protocol, what a launched job gets, and how long a standby lives.

The local job runner's tests (``estafette/jobs/tests/test_local.py``) run its whole contract through standbys too;
these check the standby on its own, as a real process speaking its pipe protocol.
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
from typing import Any

import pytest

from builder import __version__

REPO = Path(__file__).resolve().parents[2]

# A job that reports what it got, then exits with the code it is given.
REPORTING_SCRIPT = """
import json, os, sys
print(json.dumps({
    "argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ), "pid": os.getpid(), "ppid": os.getppid(),
    "session": os.getsid(0), "group": os.getpgid(0), "stdin": sys.stdin.read(),
}))
sys.exit(int(sys.argv[1]))
"""


class Standby:
    def __init__(self, *, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "builder", "standby", "--parent-pid", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env or {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
        self.hello = self.receive()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the standby ended"
        return json.loads(line)

    def send(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()
        return self.receive()

    def close(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=10)


@pytest.fixture
def standby() -> Iterator[Standby]:
    started = Standby()
    yield started
    if started.process.poll() is None:
        started.process.kill()
        started.process.wait()


def job_request(workspace: Path, *, exit_code: int = 0, **overrides: Any) -> dict[str, Any]:
    (workspace / "work").mkdir(parents=True, exist_ok=True)
    script = workspace / "job.py"
    script.write_text(REPORTING_SCRIPT)
    request = {
        "script": str(script),
        "argv": [str(exit_code)],
        "cwd": str(workspace / "work"),
        "env": {"PATH": os.environ["PATH"], "JOB_ONLY": "yes", "TZ": "UTC"},
        "output": str(workspace / "job.log"),
        "claimFile": str(workspace / "claim"),
        "stateFile": str(workspace / "job.json"),
        "exitFile": str(workspace / "exit-code"),
        "graceSeconds": 1,
        "state": {"startedBy": "standby"},
    }
    request.update(overrides)
    return request


def wait_for(path: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear within {timeout}s"
        time.sleep(0.01)
    return path.read_text()


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_it_says_it_is_ready_once_preloaded(standby: Standby) -> None:
    assert standby.hello == {"ready": True, "pid": standby.process.pid}


def test_it_launches_a_job_with_its_own_session_environment_directory_and_output(
    standby: Standby, tmp_path: Path
) -> None:
    # given
    request = job_request(tmp_path, exit_code=3)

    # when
    reply = standby.send(request)

    # then the leader answered after claiming the job and writing its state
    leader = reply["pid"]
    state = json.loads((tmp_path / "job.json").read_text())
    assert state["pid"] == leader and state["startedBy"] == "standby" and isinstance(state["startTime"], int)
    assert (tmp_path / "claim").read_text() == "standby\n"
    # and the job ran as a fresh process would, in the leader's session and group, and its exit code was recorded
    assert wait_for(tmp_path / "exit-code") == "3\n"
    seen = json.loads((tmp_path / "job.log").read_text())
    assert seen["argv"] == [str(tmp_path / "job.py"), "3"]
    assert seen["cwd"] == str(tmp_path / "work")
    assert seen["env"] == {"PATH": os.environ["PATH"], "JOB_ONLY": "yes", "TZ": "UTC"}
    assert seen["stdin"] == ""
    assert seen["session"] == seen["group"] == seen["ppid"] == leader != standby.process.pid


def test_a_module_job_runs_as_python_dash_m_would_with_only_its_own_output_in_the_log(
    standby: Standby, tmp_path: Path
) -> None:
    # given the builder itself as the job, as the local job runner hands it over
    request = job_request(tmp_path, argv=["version"])
    del request["script"]
    request["module"] = "builder"

    # when it runs
    standby.send(request)

    # then it succeeded, and its log holds what it printed and nothing from the standby's preloading
    assert wait_for(tmp_path / "exit-code") == "0\n"
    assert (tmp_path / "job.log").read_text() == f"{__version__}\n"


def test_each_job_gets_a_fresh_copy_of_the_standby_not_the_previous_jobs_state(
    standby: Standby, tmp_path: Path
) -> None:
    # given a job that looks for marks in the interpreter (a module attribute, an environment variable), then sets them
    marking = (
        "import json, os\n"
        "seen = (os.environ.get('LEFT_BEHIND'), getattr(json, 'left_behind', None))\n"
        "os.environ['LEFT_BEHIND'] = '1'\n"
        "json.left_behind = True\n"
        "open('seen', 'w').write(repr(seen))\n"
    )
    runs = [tmp_path / "first", tmp_path / "second"]

    # when it runs twice in a row
    for workspace in runs:
        request = job_request(workspace)
        Path(request["script"]).write_text(marking)
        standby.send(request)
        wait_for(workspace / "exit-code")

    # then the second run does not find the first one's marks
    assert [(workspace / "work" / "seen").read_text() for workspace in runs] == ["(None, None)", "(None, None)"]


def test_it_leaves_a_job_someone_else_claimed_alone(standby: Standby, tmp_path: Path) -> None:
    # given the runner gave up waiting and claimed the job for a cold start
    request = job_request(tmp_path)
    (tmp_path / "claim").write_text("spawn\n")

    # when the request is served after all
    reply = standby.send(request)

    # then nothing runs
    assert reply == {"claimed": False}
    time.sleep(0.2)
    assert not (tmp_path / "job.json").exists()
    assert not (tmp_path / "exit-code").exists()


def test_it_answers_a_malformed_request_with_an_error_and_keeps_serving(standby: Standby, tmp_path: Path) -> None:
    assert "error" in standby.send({"argv": []})
    assert "error" in standby.send({**job_request(tmp_path), "script": None})
    assert "pid" in standby.send(job_request(tmp_path))


def test_sigterm_reaches_the_job_and_sigkill_follows_after_the_grace_period(standby: Standby, tmp_path: Path) -> None:
    # given a job that ignores SIGTERM, with a 1 s grace period
    request = job_request(tmp_path)
    Path(request["script"]).write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, lambda *_: open('got-sigterm', 'w').close())\n"
        "open('started', 'w').close()\ntime.sleep(60)\n"
    )
    leader = standby.send(request)["pid"]
    wait_for(tmp_path / "work" / "started")

    # when the job is canceled
    canceled_at = time.monotonic()
    os.kill(leader, signal.SIGTERM)

    # then the job gets SIGTERM, and SIGKILL one grace period later
    wait_for(tmp_path / "work" / "got-sigterm")
    assert wait_for(tmp_path / "exit-code") == f"{128 + signal.SIGKILL}\n"
    assert 0.9 <= time.monotonic() - canceled_at < 5


def test_it_exits_when_its_input_closes_and_the_jobs_it_launched_go_on(standby: Standby, tmp_path: Path) -> None:
    # given a running job
    request = job_request(tmp_path)
    Path(request["script"]).write_text("import time\nopen('started', 'w').close()\ntime.sleep(60)\n")
    leader = standby.send(request)["pid"]
    wait_for(tmp_path / "work" / "started")

    # when the standby's parent closes its pipe
    exit_code = standby.close()

    # then the standby ends, the job does not
    assert exit_code == 0
    assert running(leader)
    os.killpg(leader, signal.SIGKILL)


def test_an_idle_standby_dies_with_its_parent(tmp_path: Path) -> None:
    # given a parent process that started a standby and keeps its pipe open in a child of its own (so only the
    # parent-death signal, not the end of input, can stop the standby)
    parent_code = (
        "import os, subprocess, sys, time\n"
        "read, write = os.pipe()\n"
        "standby = subprocess.Popen([sys.executable, '-P', '-m', 'builder', 'standby', '--parent-pid',"
        " str(os.getpid())], stdin=read, stdout=subprocess.PIPE, start_new_session=True)\n"
        "holder = subprocess.Popen(['sleep', '60'], pass_fds=[write], start_new_session=True)\n"
        "standby.stdout.readline()\n"
        "print(standby.pid, holder.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code],
        stdout=subprocess.PIPE,
        text=True,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
    )
    assert parent.stdout is not None
    standby_pid, holder_pid = map(int, parent.stdout.readline().split())
    try:
        assert running(standby_pid)

        # when the parent is killed outright
        parent.kill()
        parent.wait()

        # then the standby goes too
        deadline = time.monotonic() + 10
        while running(standby_pid):
            assert time.monotonic() < deadline, "the standby outlived its parent"
            time.sleep(0.02)
    finally:
        for pid in (standby_pid, holder_pid):
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def test_it_loads_cryptography_only_once_a_job_brings_secrets(standby: Standby, tmp_path: Path) -> None:
    # given jobs that say whether they found cryptography loaded, each with a configuration file (as ``--config``)
    reporting = "import sys\nopen('seen', 'w').write(str('cryptography' in sys.modules))\n"

    def run(name: str, config: str) -> str:
        workspace = tmp_path / name
        request = job_request(workspace)
        Path(request["script"]).write_text(reporting)
        (workspace / "builder-config.json").write_text(config)
        request["argv"] = ["--config", str(workspace / "builder-config.json")]
        standby.send(request)
        assert wait_for(workspace / "exit-code") == "0\n"
        return (workspace / "work" / "seen").read_text()

    # when a job without secrets runs, then one whose configuration holds an envelope, then one without again
    seen = [
        run("plain", '{"manifest": "stages: {}"}'),
        run("secret", '{"manifest": "env: estafette.secret(bm9uY2U.Y2lwaGVy)"}'),
        run("after", '{"manifest": "stages: {}"}'),
    ]

    # then the first found it absent (the standby holds it only once needed), the others found it loaded
    assert seen == ["False", "True", "True"]


# A job that runs ``python -m builder job`` as the standby does (runpy), then notes what it imported on the way.
IMPORTS_SCRIPT = """
import runpy, sys
before = set(sys.modules)
sys.argv = ["builder", *sys.argv[1:]]
try:
    runpy.run_module("builder", run_name="__main__", alter_sys=True)
except SystemExit as end:
    code = end.code
open("imported", "w").write("\\n".join(sorted(set(sys.modules) - before)))
sys.exit(code)
"""


def test_a_job_imports_nothing_the_standby_has_not_loaded_already(tmp_path: Path) -> None:
    # given a standby as the local runner starts it for the host executor, and a 1-stage job reporting to an API
    from builder.executors.sandbox import sandbox_support
    from builder.testing import FakeApi

    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "ESTAFETTE_BUILDER_EXECUTOR": "host"}
    if not sandbox_support().available:  # the sandboxed path where this machine has it, as make run does
        env["ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED"] = "true"
    standby = Standby(env=env)
    try:
        with FakeApi() as api:
            config = api.build_config(
                build_id="1",
                version="1.0.0",
                revision="0" * 40,
                stages=[{"name": "first", "image": "alpine", "commands": ["true"]}],
            )
            (tmp_path / "builder-config.json").write_text(json.dumps(config))
            request = job_request(tmp_path, env=env)
            Path(request["script"]).write_text(IMPORTS_SCRIPT)
            request["argv"] = ["job", "--config", str(tmp_path / "builder-config.json")]
            request["argv"] += ["--workspace", str(tmp_path / "work" / "workspace")]

            # when it runs in a fork of the standby
            standby.send(request)
            assert wait_for(tmp_path / "exit-code", timeout=60) == "0\n", (tmp_path / "job.log").read_text()

            # then it ran to the end and imported nothing: every module it needed was loaded before the fork
            assert api.stored_statuses()[-1] == "succeeded", (tmp_path / "job.log").read_text()
            assert (tmp_path / "work" / "imported").read_text() == ""
    finally:
        standby.process.kill()
        standby.process.wait()
