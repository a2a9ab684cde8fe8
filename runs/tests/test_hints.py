"""Right-sizing hints (``runs.hints``, ``…/stats/hints``) from the runs' measured CPU and peak memory."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from builds.testing import make_build, make_pipeline
from estafette.testing import client_for, make_user
from runs.hints import MIB, parse_cpu, parse_memory
from runs.models import RunStatus

PIPELINE = {"source": "github.com", "owner": "acme", "name": "api"}


def measured_builds(cpus: list[float], memories_mib: list[float], status: str = RunStatus.SUCCEEDED) -> None:
    pipeline = make_pipeline("api")
    for cpu, memory in zip(cpus, memories_mib, strict=True):
        build = make_build(pipeline, status=status)
        build.record_usage(cpu_max_usage=cpu, memory_max_usage=memory * MIB)


def hints() -> dict[tuple[str, str], dict]:
    response = client_for(make_user("root", staff=True)).get(reverse("pipeline-stats-hints", kwargs=PIPELINE))
    assert response.status_code == 200, response.content
    return {(hint["kind"], hint["resource"]): hint for hint in response.json()["hints"]}


@pytest.mark.parametrize(("quantity", "cores"), [("500m", 0.5), ("2", 2.0), ("1.5", 1.5), ("", None), ("x", None)])
def test_cpu_quantities(quantity: str, cores: float | None) -> None:
    assert parse_cpu(quantity) == cores


@pytest.mark.parametrize(("quantity", "size"), [("512Mi", 512 * MIB), ("1G", 1e9), ("2Gi", 2 * 1024**3), ("x", None)])
def test_memory_quantities(quantity: str, size: float | None) -> None:
    assert parse_memory(quantity) == size


@pytest.mark.django_db
@override_settings(JOB_CPU_REQUEST="4", JOB_MEMORY_REQUEST="256Mi")
def test_a_request_far_above_use_is_lowered_and_one_below_use_raised() -> None:
    # given builds using about half a core and up to 400 MiB, against 4 cores and 256 MiB requested
    measured_builds([0.3, 0.5, 0.4, 0.45], [300, 400, 350, 380])
    measured_builds([8.0], [9000], status=RunStatus.FAILED)  # a failed run's outlier is not read

    found = hints()

    cpu, memory = found[("build", "cpu")], found[("build", "memory")]
    assert (cpu["verdict"], cpu["runs"], cpu["p95"], cpu["request"], cpu["suggested"]) == ("lower", 4, 0.5, 4.0, 0.6)
    assert "far above" in cpu["message"] and "request 0.6 cores" in cpu["message"]
    assert (memory["verdict"], memory["p95"], memory["suggested"]) == ("raise", 400 * MIB, 512 * MIB)
    assert "request 512 MiB" in memory["message"]


@pytest.mark.django_db
def test_without_a_configured_request_it_only_suggests() -> None:
    measured_builds([1.0], [100])
    found = hints()
    assert found[("build", "cpu")]["verdict"] == "unset"
    assert found[("build", "cpu")]["suggested"] == 1.2
    assert found[("build", "memory")]["suggested"] == 128 * MIB


@pytest.mark.django_db
def test_a_pipeline_without_measured_runs_has_no_hints_and_an_unknown_one_is_a_404() -> None:
    make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    assert hints() == {}
    client = client_for(make_user("other", staff=True))
    missing = client.get(reverse("pipeline-stats-hints", kwargs={**PIPELINE, "name": "nope"}))
    assert missing.status_code == 404
