"""A whole pipeline on each executor: services by name with HTTP and exec readiness, parallel stages, failure,
extension variables, masking and cancellation — the same expectations for host (sandboxed) and docker.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from builder.contracts import Credential, GitConfig, TrustedImage
from builder.executors.base import Executor
from builder.manifest.extensions import extension_env
from builder.manifest.when import evaluate_when
from builder.plan import ReadinessCheck, ServicePlan, StagePlan
from builder.runner import PipelineRunner, RunContext
from builder.secrets import MASK, Masker
from builder.testing import RecordingSink, reserve_port
from builder.tests.executors.conftest import IMAGE, isolates


def make_runner(executor: Executor, workspace: Path, sink: RecordingSink, **overrides: object) -> PipelineRunner:
    context = RunContext(
        executor=executor,
        sink=sink,
        workspace=workspace,
        evaluate_when=evaluate_when,
        extension_env=extension_env,
        builder_env={"ESTAFETTE_GIT_BRANCH": "main", "ESTAFETTE_BUILD_VERSION": "1.0.0"},
        when_parameters={"branch": "main"},
        stop_grace=3.0,
    )
    for name, value in overrides.items():
        setattr(context, name, value)
    return PipelineRunner(context)


def stage(name: str, *commands: str, **fields: object) -> StagePlan:
    return StagePlan(name=name, image=IMAGE, commands=commands, **fields)  # type: ignore[arg-type]


def test_it_runs_a_pipeline_with_services_parallel_stages_and_a_failure(executor: Executor, tmp_path: Path) -> None:
    if not isolates(executor):
        pytest.skip("service names need the sandbox on the host executor")
    # given a pipeline: an HTTP service checked by HTTP, one checked by exec, parallel stages, a failing stage
    port = reserve_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "health").write_text("ok\n")
    web = ServicePlan(
        name="web",
        image=IMAGE,
        commands=(f"busybox httpd -f -p {port} -h /estafette-work/www",),
        readiness=ReadinessCheck(kind="http", port=port, path="/health", timeout_seconds=30),
    )
    worker = ServicePlan(
        name="worker",
        image=IMAGE,
        commands=("sleep 0.3", "touch /tmp/worker-ready", "sleep 60"),
        readiness=ReadinessCheck(kind="exec", command=("test", "-f", "/tmp/worker-ready"), timeout_seconds=30),
    )
    stages = [
        stage("integration", f"busybox wget -q -O - http://web:{port}/health", services=(web, worker)),
        StagePlan(
            name="checks",
            parallel_stages=(
                stage("lint", "echo $ESTAFETTE_EXTENSION_LEVEL", custom_properties={"level": "strict"}),
                stage("unit", "echo unit", "exit 6"),
            ),
        ),
        stage("report", "echo reporting $ESTAFETTE_BUILD_STATUS", when="status == 'failed'"),
    ]
    sink = RecordingSink()
    runner = make_runner(executor, tmp_path, sink)
    # when it runs
    final = runner.run(stages)
    # then everything happened as in Estafette
    assert final == "failed"
    assert sink.step("integration").status == "SUCCEEDED", sink.steps()
    assert "ok" in sink.texts("integration")
    assert sink.step("web", parent="integration").status == "SUCCEEDED"
    assert sink.step("worker", parent="integration").status == "SUCCEEDED"
    assert sink.step("lint").status == "SUCCEEDED" and "strict" in sink.texts("lint")
    assert (sink.step("unit").status, sink.step("unit").exit_code) == ("FAILED", 6)
    assert sink.step("checks").status == "FAILED"
    assert "reporting failed" in sink.texts("report")


def test_it_masks_secrets_in_the_output_of_either_executor(executor: Executor, tmp_path: Path) -> None:
    sink = RecordingSink()
    runner = make_runner(executor, tmp_path, sink, masker=Masker(["sup3r-s3cret"]))
    runner.run([stage("leak", "printf 'a sup3r-'; sleep 0.3; echo s3cret b")])
    assert f"a {MASK} b" in sink.texts("leak")


def test_it_cancels_a_running_pipeline_within_the_grace(executor: Executor, tmp_path: Path) -> None:
    sink = RecordingSink()
    runner = make_runner(executor, tmp_path, sink)
    (tmp_path / "wait.sh").write_text("while true; do sleep 0.1; done\n")
    threading.Timer(2.0, runner.cancel).start()
    started = time.monotonic()
    final = runner.run([stage("long", "sh wait.sh", "true"), stage("next", "true")])
    assert final == "canceled"
    assert time.monotonic() - started < 12
    assert sink.step("long").status == "CANCELED" and sink.step("next").status == "CANCELED"


def test_a_trusted_images_stage_reads_its_credentials_at_slash_credentials(executor: Executor, tmp_path: Path) -> None:
    # given a trusted image that receives registry credentials and may run commands
    credential = Credential(name="hub", type="container-registry", additional_properties={"username": "ann"})
    trusted = TrustedImage(path="local/busybox", injected_credential_types=("container-registry",), allow_commands=True)
    sink = RecordingSink()
    runner = make_runner(executor, tmp_path, sink, credentials=(credential,), trusted_images=(trusted,))
    # when its stage reads them (in the host sandbox as an unprivileged uid, in a container as its user)
    final = runner.run([stage("push", "cat /credentials/container_registry.json")])
    # then they are there
    assert final == "succeeded", sink.texts("push")
    assert any('"username": "ann"' in text for text in sink.texts("push"))


def test_it_clones_natively_in_the_host_sandbox_whatever_the_executor(executor: Executor, tmp_path: Path) -> None:
    # given a local repository (readable by others, as the sandbox's uid reads it) and a run on either executor
    origin = tmp_path / "origin"
    origin.mkdir(mode=0o755)
    for args in (
        ["init", "-q", "-b", "main"],
        ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(["git", "-C", str(origin), *args], check=True)
    head = subprocess.run(["git", "-C", str(origin), "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    git = GitConfig(
        repo_source="github.com",
        repo_owner="acme",
        repo_name="api",
        repo_branch="main",
        repo_revision=head.stdout.strip(),
        repo_url=str(origin),
    )
    workspace = tmp_path / "work"
    workspace.mkdir()
    sink = RecordingSink()
    runner = make_runner(executor, workspace, sink, git=git)
    # when the git-clone stage and a stage reading the clone run
    clone = StagePlan(name="git-clone", image="extensions/git-clone:stable", auto_injected=True)
    final = runner.run([clone, stage("log", "cat .git/HEAD")])
    # then the stage sees the checkout
    assert final == "succeeded", (sink.texts("git-clone"), sink.texts("log"))
    assert "ref: refs/heads/main" in sink.texts("log")
