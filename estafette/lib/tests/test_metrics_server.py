"""A worker's own ``/metrics`` server (``estafette.lib.metrics_server``), over real HTTP on a free port."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from builder.testing import reserve_port
from estafette.lib import metrics
from estafette.lib.metrics_server import MetricsServer, start_metrics_server

TOKEN = "worker-metrics-token-0123456789"


@pytest.fixture
def server(settings) -> Iterator[MetricsServer]:
    settings.METRICS_TOKEN = TOKEN
    started = start_metrics_server(port=reserve_port(), address="127.0.0.1")
    assert started is not None
    try:
        yield started
    finally:
        started.close()


def scrape(server: MetricsServer, *, token: str | None = TOKEN, path: str = "/metrics") -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(answer.read().decode())


def handled(text: str, consumer: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "estafette_queue_events_handled_total" and sample.labels.get("consumer") == consumer:
                return float(sample.value)
    return 0.0


def test_it_serves_what_this_process_counts_and_moves_with_it(server: MetricsServer) -> None:
    # given what the process has counted so far
    before = handled(scrape(server), "metrics-server-test")
    # when a consumer of this process settles two events
    metrics.events_handled.labels(consumer="metrics-server-test", outcome="ack").inc(2)
    # then a scrape, parsed by prometheus-client's own parser, shows them, with the process's own CPU and memory
    text = scrape(server)
    assert handled(text, "metrics-server-test") == before + 2
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"process_cpu_seconds", "process_resident_memory_bytes"} <= names
    # and not the database's state, which the API's /metrics alone serves (no double counting)
    assert "estafette_runs" not in names and "estafette_outbox_unsent_messages" not in names


def test_one_server_per_process_however_many_workers_start_it(server: MetricsServer) -> None:
    # relay, cron and sweeper in one process each call the helper: the second call gets the running server
    assert start_metrics_server(port=reserve_port(), address="127.0.0.1") is server


def test_port_zero_serves_nothing(settings) -> None:
    settings.METRICS_PORT = 0
    assert start_metrics_server() is None


def test_a_port_in_use_says_what_to_do(settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="ESTAFETTE_METRICS_PORT"):
            start_metrics_server(port=taken.getsockname()[1], address="127.0.0.1")


def test_other_paths_are_not_found(server: MetricsServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        scrape(server, path="/")
    assert raised.value.code == 404
