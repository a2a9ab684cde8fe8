"""``/metrics`` on ``make run``'s process set, read with prometheus-client's own parser before and after a build.

The Procfile runs under supervisord with ``PROMETHEUS_MULTIPROC_DIR`` set, as ``make run`` does: the counters of
gunicorn's workers and the consumers meet in one scrape. After one build, the counters it moves have moved.
"""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from builds.models import Build
from tests.harness.system import System

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

MANIFEST = """\
stages:
  build:
    image: alpine:3.20
    commands:
    - echo "one"
    - echo "two"
    - dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null
"""


def scrape(system: System) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, parsed by prometheus-client: ``(name, sorted labels) → value``."""
    with urllib.request.urlopen(f"{system.processes.url}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        value for (sample, sample_labels), value in samples.items() if sample == name and wanted <= set(sample_labels)
    )


def test_a_build_moves_the_counters_that_metrics_shows(system: System) -> None:
    # given the running set's metrics before any build
    before = scrape(system)
    assert total(before, "estafette_runs", kind="build") == 0

    # when a push builds
    repository = system.repository("acme", "metered", MANIFEST)
    system.push(repository)
    build = system.wait_for_build("local/acme/metered")
    path = f"/pipelines/local/acme/metered/builds/{build['id']}"
    assert system.wait_until_final(path, "buildStatus")["buildStatus"] == "succeeded"
    after = scrape(system)

    # then the run counts, durations and waits moved by this build (counted in the web workers and the consumers)
    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("estafette_runs_finished_total", kind="build", status="succeeded") == 1
    assert moved("estafette_run_duration_seconds_count", kind="build", status="succeeded") == 1
    assert moved("estafette_run_pending_seconds_count", kind="build") == 1
    assert moved("estafette_job_start_seconds_count", kind="build") == 1
    assert moved("estafette_stage_duration_seconds_count", kind="build", status="SUCCEEDED") >= 2  # clone, build
    assert moved("estafette_stage_memory_max_bytes_count", kind="build") >= 1
    assert moved("estafette_log_lines_ingested_total", kind="build") >= 2
    assert moved("estafette_log_bytes_ingested_total", kind="build") >= len("onetwo")
    assert moved("estafette_queue_events_handled_total", outcome="ack") >= 1
    assert moved("estafette_http_request_duration_seconds_count", route="metrics", method="GET") == 1
    # and the state read from the database, with the build stored with what it used
    assert total(after, "estafette_runs", kind="build", status="succeeded") == 1
    assert total(after, "estafette_outbox_unsent_messages") >= 0
    assert ("estafette_live_tails_open", ()) in after
    assert any(name == "estafette_queue_lag_seconds" for name, _ in after)
    stored = Build.objects.get(pk=build["id"])
    assert stored.memory_max_usage is not None and stored.memory_max_usage >= 16 * 1024 * 1024  # dd's buffer
