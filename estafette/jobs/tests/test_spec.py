"""Job names and specs (ESTAFETTE.md §3.6), and choosing the runner from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from estafette.jobs import get_job_runner
from estafette.jobs.base import JobSpec, job_name
from estafette.jobs.kubernetes import KubernetesJobRunner
from estafette.jobs.local import LocalProcessJobRunner
from tests.tooling.kube import KubeApi


@pytest.mark.parametrize(
    ("job_type", "owner", "name", "run_id", "expected"),
    [
        ("build", "estafette", "estafette-ci-api", 42, "build-estafette-estafette-ci-api-42"),
        ("release", "Acme_Corp", "My.Repo", "7", "release-acme-corp-my-repo-7"),
        ("bot", "", "", 3, "bot-3"),
        (
            "build",
            "a-very-long-organisation-name",
            "and-an-even-longer-repository-name-here",
            "1139406381528850433",  # a CockroachDB unique_rowid(): kept whole, the repository gives way
            "build-a-very-long-organisation-name-and-an-1139406381528850433",
        ),
        ("build", "owner", "name-ending-in-dashes---at-the-cut", 10**40, None),
    ],
)
def test_it_names_jobs_as_estafette_does(job_type, owner, name, run_id, expected) -> None:
    # when
    result = job_name(job_type=job_type, repo_owner=owner, repo_name=name, run_id=run_id)

    # then
    if expected is not None:
        assert result == expected
    assert len(result) <= 63
    assert result == result.lower()
    assert "--" not in result
    assert result.endswith(f"-{run_id}")


def test_it_refuses_names_and_types_kubernetes_would_refuse() -> None:
    with pytest.raises(ValueError, match="job type must be a run kind"):
        job_name(job_type="Deploy-1", repo_owner="o", repo_name="r", run_id=1)
    with pytest.raises(ValueError, match="lowercase DNS label"):
        JobSpec(name="Build_1", job_type="build", run_id="1", config={}, secret_key="k")
    with pytest.raises(ValueError, match="per-job secret key"):
        JobSpec(name="build-1", job_type="build", run_id="1", config={}, secret_key="")


def test_it_runs_jobs_locally_by_default_and_on_kubernetes_when_asked(
    settings, tmp_path: Path, kube_api: KubeApi
) -> None:
    # given
    get_job_runner.cache_clear()
    settings.JOB_RUNNER = "local"
    settings.DATA_DIR = tmp_path

    # when / then
    local = get_job_runner()
    assert isinstance(local, LocalProcessJobRunner)
    assert local.jobs_dir == tmp_path / "jobs"

    # given
    get_job_runner.cache_clear()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        f"clusters: [{{name: kmock, cluster: {{server: '{kube_api.url}'}}}}]\n"
        "users: [{name: test, user: {token: t}}]\n"
        "contexts: [{name: test, context: {cluster: kmock, user: test}}]\n"
    )
    settings.JOB_RUNNER = "kubernetes"
    settings.KUBECONFIG = str(kubeconfig)
    settings.JOBS_NAMESPACE = "ci-jobs"

    # when
    remote = get_job_runner()
    get_job_runner.cache_clear()

    # then
    assert isinstance(remote, KubernetesJobRunner)
    assert remote.namespace == "ci-jobs"
    assert remote.status("build-x-1").value == "not_found"  # it talks to the configured server
