"""Hostile builds through the whole system: a signed push of a hostile manifest, the real Procfile's processes, the
local job runner, the real builder on the host executor with real bubblewrap; the outcome read from the REST API's
log, the host's file system and the server's data dir.

The first test runs the system in a directory under ``/var/tmp``: the sandbox gives stages a private ``/tmp``, which
alone would hide a data dir in pytest's ``/tmp`` (the default data dir, ``./var`` of the checkout, is not there).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from estafette.queue.jetstream import QueueSettings
from tests.harness.asserts import steps_of
from tests.harness.system import System, start_system

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def system_outside_tmp(transactional_db: None, queue_settings: QueueSettings) -> Iterator[System]:
    directory = Path(tempfile.mkdtemp(prefix="estafette-security-system-", dir="/var/tmp"))
    try:
        with start_system(queue_settings, directory) as running:
            yield running
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def build_log(system: System, pipeline: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]], str]:
    """The pipeline's first build once it ended, its steps, and every line of its log as one text."""
    build = system.wait_for_build(pipeline)
    path = f"/pipelines/{pipeline}/builds/{build['id']}"
    build = system.wait_until_final(path, "buildStatus", timeout=120)
    steps = steps_of(system.api.get(f"{path}/logs"))
    # what the stages printed and the builder said, without its echo of each command (`> command`, in grey)
    text = "\n".join(
        line["text"]
        for step in steps.values()
        for line in step["logLines"]
        if not line["text"].startswith("\x1b[38;5;245m> ")
    )
    return build, steps, text


def shadow_line_of_root() -> str:
    return next(line for line in Path("/etc/shadow").read_text().splitlines() if line.startswith("root:"))


HOSTILE = """\
stages:
  snoop:
    image: alpine:3.20
    commands:
    - cat {data}/secret-key {data}/secret-decryption-key || true
    - cat ../builder-config.json ../secret-key || true
    - cat {data}/jobs/*/builder-config.json {data}/jobs/*/secret-key || true
    - cat {database} | tr -c '[:print:]' ' ' | head -c 200000 || true
    - for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done || true
    - cat /etc/shadow || true
    - ls -la /root {data} || true
    - mkdir -p /tmp/d && mount -t tmpfs -o dev none /tmp/d && echo MOUNTED-TMPFS || true
    - touch {outside}/marker-beside-the-data-dir {data}/marker-in-the-data-dir /var/tmp/{tag} || true
    - echo snooped
"""


def test_a_hostile_build_reads_no_server_secret_and_writes_nothing_on_the_host(system_outside_tmp: System) -> None:
    # given a repository whose manifest goes after the server's keys, database, the job's files, environments,
    # the host's secrets and file system
    system = system_outside_tmp
    data = system.processes.data_dir
    database = system.processes.env["ESTAFETTE_DATABASE_URL"].removeprefix("sqlite:///")
    tag = f"marker-{secrets.token_hex(6)}"
    manifest = HOSTILE.format(data=data, database=database, outside=data.parent, tag=tag)
    repository = system.repository("acme", "hostile", manifest)
    # when it is pushed and built
    system.push(repository)
    build, steps, text = build_log(system, "local/acme/hostile")
    # then the build ran to its end
    assert build["buildStatus"] == "succeeded", system.diagnostics()
    assert "snooped" in text
    # and no secret of the server or the host is in its log
    server_secrets = {
        "the server's secret key": (data / "secret-key").read_text().strip(),
        "the installation's decryption key": (data / "secret-decryption-key").read_text().strip(),
        "the user's API token": system.api.headers["Authorization"].removeprefix("Token "),
        "root's password hash": shadow_line_of_root(),
    }
    assert [name for name, value in server_secrets.items() if value in text] == []
    assert [word for word in ("jobToken", "ESTAFETTE_DATABASE_URL", "MOUNTED-TMPFS") if word in text] == []
    # and nothing was written outside its workspace
    markers = [data.parent / "marker-beside-the-data-dir", data / "marker-in-the-data-dir", Path("/var/tmp") / tag]
    assert [marker for marker in markers if marker.exists()] == []
    assert steps["snoop"]["status"] == "SUCCEEDED"


CLONE_INJECTION = """\
stages:
  git-clone:
    image: extensions/git-clone:stable
    {option}: "{value}"
  after:
    image: alpine:3.20
    commands:
    - echo cloned
"""


def test_hostile_git_clone_options_run_nothing_and_check_out_nothing_outside_the_workspace(system: System) -> None:
    # given two repositories whose git-clone stage smuggles a git option that runs a command, and aims the
    # checkout four levels above the workspace (<data dir>/jobs/<job>/work)
    marker = system.processes.data_dir.parent / "upload-pack-ran"
    injection = system.repository(
        "acme",
        "injection",
        CLONE_INJECTION.format(option="revision", value=f"--upload-pack=touch {marker}; true"),
    )
    escape = system.repository("acme", "escape", CLONE_INJECTION.format(option="subdir", value="../../../../x"))
    # when both are pushed and built
    system.push(injection)
    system.push(escape)
    injected, injected_steps, injected_text = build_log(system, "local/acme/injection")
    escaped, escaped_steps, escaped_text = build_log(system, "local/acme/escape")
    # then neither command ran nor checkout happened, and each git-clone stage failed saying why
    assert not marker.exists()
    assert not (system.processes.data_dir.parent / "x").exists() and not (system.processes.data_dir / "x").exists()
    assert (injected["buildStatus"], injected_steps["git-clone"]["status"]) == ("failed", "FAILED")
    assert f"git-clone revision '--upload-pack=touch {marker}; true' is not allowed" in injected_text
    assert (escaped["buildStatus"], escaped_steps["git-clone"]["status"]) == ("failed", "FAILED")
    assert "git-clone subdir '../../../../x' must stay inside the workspace" in escaped_text


PLANT_AND_CLONE = """\
stages:
  plant:
    image: alpine:3.20
    commands:
    - mkdir -p .git && ln -s {data}/secret-key .git/FETCH_HEAD
  git-clone:
    image: extensions/git-clone:stable
"""


def test_a_symlink_a_stage_leaves_to_the_servers_key_is_not_followed_by_a_later_clone(system: System) -> None:
    # given a stage that points .git/FETCH_HEAD at the server's secret key before the git-clone stage runs (the
    # builder once read that file, and git wrote it, as root)
    data = system.processes.data_dir
    key_before = (data / "secret-key").read_text()
    repository = system.repository("acme", "planter", PLANT_AND_CLONE.format(data=data))
    # when it is pushed and built
    system.push(repository)
    build, steps, text = build_log(system, "local/acme/planter")
    # then the key is as it was and not in the log
    assert (data / "secret-key").read_text() == key_before
    assert key_before.strip() not in text
    assert steps["plant"]["status"] == "SUCCEEDED"
    assert build["buildStatus"] in ("succeeded", "failed")
