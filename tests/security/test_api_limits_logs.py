"""A huge log read by several clients at once, against the real gunicorn (2 gthread workers, as the Procfile runs).

Seen before: ``GET …/logs`` of a build with a 300 k-line log answered 46.7 MB, built whole in memory; 8 parallel reads
left the web workers at 2.2 GB RSS for good while other requests waited seconds. Now the log document is streamed
while the log store is read a bounded page at a time: each worker stays under 300 MB, and every reader gets the whole,
correct log.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builds.models import Build
from builds.testing import make_build
from estafette.queue.jetstream import QueueSettings
from runs.models import LogRecord, RunStatus
from runs.services import log_append, log_record_create
from runs.testing import output_line
from tests.harness.system import System, start_system

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

LINES = 300_000
BATCH = 5_000  # the builder's largest batch
READERS = 8
RSS_LIMIT = 300 * 1024 * 1024
TEXT = "compiling src/module_{n:06d}.py: ok, 12 tests passed in 0.42 s; coverage 87.5 % (target 85 %)"


def seed(build: Build) -> LogRecord:
    """A 300 k-line log stored as a builder's batches (through the log store service), ~47 MB as JSON."""
    record = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    for seq, first in enumerate(range(0, LINES, BATCH), 1):
        lines = [output_line("build", TEXT.format(n=n), n + 1) for n in range(first, first + BATCH)]
        log_append(record=record, seq=seq, lines=lines)
    return record


@pytest.fixture
def stack(transactional_db: None, queue_settings: QueueSettings, tmp_path: Path) -> Iterator[tuple[System, Build]]:
    build = make_build(status=RunStatus.SUCCEEDED)  # finished before the system starts: no job for it
    seed(build)
    with start_system(queue_settings, tmp_path) as system:
        yield system, build


def web_workers(port: int) -> list[int]:
    """The pids of gunicorn's workers serving ``port`` (the children of its master)."""
    processes: dict[int, tuple[int, str]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        processes[int(proc.name)] = (parent, command)
    serving = {pid for pid, (_, command) in processes.items() if "gunicorn" in command and f":{port} " in command}
    return sorted(pid for pid in serving if processes[pid][0] in serving)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class RssWatch:
    """Samples the RSS of some processes every 20 ms in a thread; ``peaks`` is the highest seen per pid."""

    def __init__(self, pids: list[int]) -> None:
        self.peaks = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for pid in self.peaks:
                self.peaks[pid] = max(self.peaks[pid], rss(pid))

    def stop(self) -> dict[int, int]:
        self._stop.set()
        self._thread.join(5)
        return self.peaks


def read_log(system: System, path: str, into: Path | None) -> dict[str, Any]:
    """Reads the log as a client does, counting its lines on the way (and keeping it in ``into`` if given)."""
    request = urllib.request.Request(f"{system.processes.url}/api{path}", headers=system.api.headers)
    marker, size, lines, tail = b'"line":', 0, 0, b""
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=300) as response, (into or Path("/dev/null")).open("wb") as copy:
        status = response.status
        while data := response.read(256 * 1024):
            size += len(data)
            lines += (tail + data).count(marker)
            tail = data[-(len(marker) - 1) :]
            copy.write(data)
    return {"status": status, "size": size, "lines": lines, "seconds": time.monotonic() - started}


def test_eight_readers_of_a_300k_line_log_each_get_it_whole_in_bounded_worker_memory(
    stack: tuple[System, Build], tmp_path: Path
) -> None:
    system, build = stack
    path = f"/pipelines/{build.pipeline.full_name}/builds/{build.pk}/logs"
    workers = web_workers(int(system.processes.url.rsplit(":", 1)[1]))
    # make run's default is one gthread worker (ESTAFETTE_WEB_WORKERS): all 8 readers share it, the hardest case
    assert len(workers) == 1, workers
    before = {pid: rss(pid) for pid in workers}
    # when 8 clients read the log at once
    results: list[dict[str, Any]] = [{} for _ in range(READERS)]
    kept = tmp_path / "log.json"

    def reader(index: int) -> None:
        results[index] = read_log(system, path, kept if index == 0 else None)

    watch = RssWatch(workers)
    threads = [threading.Thread(target=reader, args=(index,)) for index in range(READERS)]
    for thread in threads:
        thread.start()
    waits = []  # meanwhile, another client lists the pipelines
    while any(thread.is_alive() for thread in threads):
        started = time.monotonic()
        assert system.api.get("/pipelines")["items"]
        waits.append(time.monotonic() - started)
    for thread in threads:
        thread.join(600)
    peaks = watch.stop()
    # then each got the whole log: 300 000 lines, ~47 MB
    assert [result.get("status") for result in results] == [200] * READERS
    assert {result["lines"] for result in results} == {LINES}
    assert len({result["size"] for result in results}) == 1 and results[0]["size"] > 40_000_000
    # and the document is the log, in order (one copy parsed in full)
    document = json.loads(kept.read_bytes())
    [step] = document["steps"]
    assert len(step["logLines"]) == LINES
    assert step["logLines"][0]["text"] == TEXT.format(n=0)
    assert step["logLines"][-1] == {
        "line": LINES,
        "timestamp": "2030-01-01T00:00:00Z",
        "streamType": "stdout",
        "text": TEXT.format(n=LINES - 1),
    }
    # while no web worker went past 300 MB
    summary = {pid: f"{before[pid] / 2**20:.0f} → {peaks[pid] / 2**20:.0f} MB" for pid in workers}
    assert all(peak < RSS_LIMIT for peak in peaks.values()), summary
    # and the other client was answered all along
    assert max(waits) < 5, waits
    print(
        f"web workers' RSS (before → peak): {summary}; reads took {[round(r['seconds'], 1) for r in results]} s; "
        f"GET /api/pipelines meanwhile: median {sorted(waits)[len(waits) // 2]:.2f} s, max {max(waits):.2f} s"
    )
