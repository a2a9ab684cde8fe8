"""The pure parts of ``bench/peer_buildbot.py``: the master.cfg it writes, our manifests, and how figures and ratios
are printed. The bench itself (which installs Buildbot) is run by hand, never by the suite."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bench import peer_buildbot
from bench.support import Memory, ratio_text
from builder.manifest import load_manifest

pytestmark = pytest.mark.pure


class Recorded:
    """Stands in for a Buildbot plugin class: keeps what it was built with."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class FakeFactory:
    def __init__(self) -> None:
        self.steps: list[Recorded] = []

    def addStep(self, step: Recorded) -> None:  # Buildbot's name
        self.steps.append(step)


def run_master_config(text: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Execute a master.cfg against fake ``buildbot.plugins`` (what Buildbot does with the real ones); its config."""
    plugins = types.ModuleType("buildbot.plugins")
    plugins.schedulers = types.SimpleNamespace(ForceScheduler=Recorded)  # type: ignore[attr-defined]
    plugins.steps = types.SimpleNamespace(ShellCommand=Recorded)  # type: ignore[attr-defined]
    plugins.util = types.SimpleNamespace(BuildFactory=FakeFactory, BuilderConfig=Recorded)  # type: ignore[attr-defined]
    plugins.worker = types.SimpleNamespace(Worker=Recorded)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "buildbot", types.ModuleType("buildbot"))
    monkeypatch.setitem(sys.modules, "buildbot.plugins", plugins)
    namespace: dict[str, Any] = {}
    exec(compile(text, "master.cfg", "exec"), namespace)  # the file Buildbot would execute
    return namespace["BuildmasterConfig"]


def test_the_master_config_has_a_one_and_a_three_stage_builder_that_never_collapse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = peer_buildbot.master_config(www_port=41001, pb_port=41002, workers=["local-1", "local-2"], password="pw")
    config = run_master_config(text, monkeypatch)

    builders = {builder.kwargs["name"]: builder.kwargs for builder in config["builders"]}
    commands = {name: [step.kwargs["command"] for step in kwargs["factory"].steps] for name, kwargs in builders.items()}
    assert commands == {
        "one-stage": [["date", "+%s.%N"]],
        "three-stage": [["date", "+%s.%N"], ["true"], ["true"]],
    }
    assert all(kwargs["collapseRequests"] is False for kwargs in builders.values())
    assert all(kwargs["workernames"] == ["local-1", "local-2"] for kwargs in builders.values())
    schedulers = {scheduler.kwargs["name"]: scheduler.kwargs["builderNames"] for scheduler in config["schedulers"]}
    assert schedulers == {"one-stage": ["one-stage"], "three-stage": ["three-stage"]}
    assert [worker.args for worker in config["workers"]] == [("local-1", "pw"), ("local-2", "pw")]
    # loopback only, on the ports given
    assert config["www"]["port"] == "tcp:41001:interface=127.0.0.1"
    assert config["protocols"]["pb"]["port"] == "tcp:41002:interface=127.0.0.1"


@pytest.mark.parametrize("stages", [1, 3])
def test_our_manifest_has_the_same_stages(stages: int) -> None:
    manifest = load_manifest(peer_buildbot.manifest(stages))

    assert [stage.name for stage in manifest.stages] == list(peer_buildbot.STAGE_NAMES[:stages])
    assert [list(stage.commands) for stage in manifest.stages] == [["date +%s.%N"]] + [["true"]] * (stages - 1)


def test_quick_is_a_small_run() -> None:
    quick, full = peer_buildbot.parse_args(["--quick"]), peer_buildbot.parse_args([])

    assert (quick.builds, quick.burst, quick.warmup) == (3, 10, 1)
    assert (full.builds, full.burst, full.clients) == (30, 200, 4)


@pytest.mark.parametrize(
    ("ours", "theirs", "higher_is_better", "text"),
    [
        (50, 200, False, "0.25x (4.0x better)"),
        (300, 150, False, "2.00x (2.0x worse)"),
        (30, 4, True, "7.50x (7.5x better)"),
        (2, 4, True, "0.50x (2.0x worse)"),
        (100, 100, False, "1.00x (the same)"),
        (0, 100, False, "—"),
    ],
)
def test_a_ratio_says_which_way_it_goes(ours: float, theirs: float, higher_is_better: bool, text: str) -> None:
    assert ratio_text(ours, theirs, higher_is_better=higher_is_better) == text


def test_the_latency_table_shows_both_systems_and_the_ratio() -> None:
    nan = float("nan")
    samples = {
        "ours": {
            kind: {"started": [40.0, 50.0, 60.0], "finished": [70.0, nan, 90.0, 100.0]} for kind in peer_buildbot.KINDS
        },
        "buildbot": {
            kind: {"started": [190.0, 200.0, 210.0], "finished": [300.0, 320.0, 340.0]} for kind in peer_buildbot.KINDS
        },
    }

    lines = peer_buildbot.latency_lines(samples)

    started = next(line for line in lines if line.split()[:2] == ["1-stage", "started"])
    assert started.split()[2:6] == ["50.0", "60.0", "200.0", "210.0"]
    assert "0.25x (4.0x better)" in started
    finished = next(line for line in lines if line.split()[:2] == ["3-stage", "finished"])
    assert finished.split()[2:4] == ["90.0", "100.0"]  # the missing milestone (NaN) is left out, not counted as 0
    assert len(lines) == 1 + 2 * len(peer_buildbot.KINDS)


def test_a_percentile_of_nothing_measured_is_not_a_number() -> None:
    assert math.isnan(peer_buildbot.percentile([float("nan")], 0.5))


def test_the_burst_and_memory_lines_give_both_figures_and_the_ratio() -> None:
    mine = peer_buildbot.BurstFigures(200, 10.0, {"web": 20.0, "worker": 40.0}, "200 succeeded")
    theirs = peer_buildbot.BurstFigures(200, 50.0, {"master": 200.0, "local-1": 40.0}, "200 succeeded")

    lines = peer_buildbot.burst_lines(mine, theirs)

    assert "ours   20.0   Buildbot    4.0   5.00x (5.0x better)" in lines[0]
    assert "ours   60.0   Buildbot  240.0   0.25x (4.0x better)" in lines[2]
    assert lines[4].endswith("local-1 40.0, master 200.0")
    memory = peer_buildbot.memory_lines(Memory(rss_kb=250 * 1024, pss_kb=200 * 1024), Memory(133 * 1024, 100 * 1024))
    assert "ours  250.0   Buildbot  133.0   1.88x (1.9x worse)" in memory[0]


def test_a_timeout_starting_buildbot_shows_the_ends_of_its_logs(tmp_path: Path) -> None:
    """The work directory is deleted with the bench: what went wrong must be in the message."""
    buildbot = peer_buildbot.Buildbot(tmp_path / "bin", tmp_path, workers=1)
    (tmp_path / "master").mkdir()
    (tmp_path / "master" / "twistd.log").write_text("".join(f"line {number}\n" for number in range(40)))
    buildbot.processes["master"] = subprocess.Popen(["sleep", "30"], start_new_session=True)
    buildbot.processes["local-1"] = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        with pytest.raises(SystemExit) as stopped:
            buildbot._wait(lambda: False, what="every worker to attach", timeout=0)
    finally:
        buildbot.stop()
    message = str(stopped.value)
    assert message.startswith("timed out after 0s waiting for every worker to attach")
    assert "line 39" in message and "line 25" in message and "line 24" not in message
    assert f"{tmp_path}/local-1/twistd.log ---\n(no log)" in message


def test_workers_start_once_the_worker_port_accepts(tmp_path: Path) -> None:
    buildbot = peer_buildbot.Buildbot(tmp_path / "bin", tmp_path, workers=1)
    assert not buildbot._accepts_workers()
    with socket.create_server(("127.0.0.1", buildbot.pb_port)):
        assert buildbot._accepts_workers()
