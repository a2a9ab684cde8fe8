"""A worker started as the chart starts it (``manage.py sweep_jobs --every``, ``ESTAFETTE_METRICS_PORT`` set) serves
its own ``/metrics`` for the PodMonitor, and stops with its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from builder.testing import reserve_port
from tests.tooling.waiting import wait_until

pytestmark = pytest.mark.pure  # its own process and data dir
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "worker-metrics-token-for-the-podmonitor"


def test_the_sweeper_serves_its_metrics_on_the_configured_port(tmp_path: Path) -> None:
    port = reserve_port()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("ESTAFETTE_", "PROMETHEUS_"))},
        "ESTAFETTE_DATA_DIR": str(tmp_path),
        "ESTAFETTE_METRICS_PORT": str(port),
        "ESTAFETTE_METRICS_ADDRESS": "127.0.0.1",
        "ESTAFETTE_METRICS_TOKEN": TOKEN,
    }
    sweeper = subprocess.Popen(
        [sys.executable, "manage.py", "sweep_jobs", "--every", "3600"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )

        def scraped() -> str | None:
            assert sweeper.poll() is None, sweeper.stdout.read().decode() if sweeper.stdout else ""
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    return str(answer.read().decode())
            except OSError:
                return None  # not listening yet

        text = wait_until(scraped, timeout=60, interval=0.1, what="the sweeper's metrics server")
        names = {family.name for family in text_string_to_metric_families(text)}
        assert "process_cpu_seconds" in names
    finally:
        sweeper.send_signal(signal.SIGTERM)
        output = sweeper.communicate(timeout=60)[0].decode()
    assert sweeper.returncode == 0, output
