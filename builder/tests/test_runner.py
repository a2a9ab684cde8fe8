"""Stage semantics with the host executor (real processes, no sandbox): when, statuses, parallel stages,
services and their readiness, secrets in output, cancellation, trusted-image credentials.

The same semantics run against both executors in ``builder/tests/executors``.
"""

import json
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from builder.contracts import Credential, TrustedImage
from builder.executors.base import PullError
from builder.executors.host import HostExecutor
from builder.manifest.extensions import extension_env
from builder.manifest.when import evaluate_when
from builder.plan import ReadinessCheck, ServicePlan, StagePlan
from builder.runner import COMMANDS_NOT_ALLOWED, PipelineRunner, RunContext
from builder.secrets import MASK, Masker
from builder.testing import RecordingSink, reserve_port


def make_runner(workspace: Path, sink: RecordingSink, **overrides: object) -> PipelineRunner:
    context = RunContext(
        executor=HostExecutor(sandbox=False),
        sink=sink,
        workspace=workspace,
        evaluate_when=evaluate_when,
        extension_env=extension_env,
        builder_env={"ESTAFETTE_GIT_BRANCH": "main", "ESTAFETTE_BUILD_VERSION": "1.0.0"},
        when_parameters={"branch": "main", "action": ""},
        stop_grace=3.0,
    )
    for name, value in overrides.items():
        setattr(context, name, value)
    return PipelineRunner(context)


def stage(name: str, *commands: str, **fields: object) -> StagePlan:
    return StagePlan(name=name, image="alpine:3", commands=commands, **fields)  # type: ignore[arg-type]


def test_it_runs_stages_in_order_with_statuses_exit_codes_and_durations(tmp_path: Path) -> None:
    # given two stages
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    # when run
    final = runner.run([stage("build", "echo built > out.txt"), stage("test", "cat out.txt", "echo err >&2")])
    # then both succeeded in order, in the shared workspace, with their output and image recorded
    assert final == "succeeded"
    assert sink.statuses("build") == ["PENDING", "RUNNING", "SUCCEEDED"]
    test = sink.step("test")
    assert (test.status, test.exit_code) == ("SUCCEEDED", 0)
    assert test.duration is not None and test.duration > 0
    assert test.image is not None and (test.image.name, test.image.tag) == ("alpine", "3")
    texts = [(line.stream_type, line.text) for line in test.log_lines if not line.text.startswith("\x1b")]
    assert texts == [("stdout", "built"), ("stderr", "err")]
    assert [line.line for line in test.log_lines] == list(range(1, len(test.log_lines) + 1))


def test_it_evaluates_when_with_the_running_status_after_a_failure(tmp_path: Path) -> None:
    # given a failing stage, a default stage and a stage for failures
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    stages = [
        stage("build", "exit 3"),
        stage("test", "echo should not run"),
        stage("notify", "echo status is $ESTAFETTE_BUILD_STATUS", when="status == 'failed'"),
        stage("always", "echo always", when="status == 'succeeded' || status == 'failed'"),
    ]
    # when run
    final = runner.run(stages)
    # then the failure is recorded, later stages are still evaluated with status failed
    assert final == "failed"
    assert (sink.step("build").status, sink.step("build").exit_code) == ("FAILED", 3)
    assert sink.step("test").status == "SKIPPED"
    assert sink.step("notify").status == "SUCCEEDED"
    assert "status is failed" in sink.texts("notify")
    assert sink.step("always").status == "SUCCEEDED"


def test_it_fails_the_run_when_a_when_expression_cannot_be_evaluated(tmp_path: Path) -> None:
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    final = runner.run([stage("odd", "echo x", when="status ==")])
    assert final == "failed"
    assert sink.statuses("odd") == []  # as Estafette: no status for the stage
    assert any("Failed evaluating when expression" in text for text in sink.texts("odd"))


def test_it_uses_branch_and_estafette_variables_in_when(tmp_path: Path) -> None:
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    runner.run(
        [
            stage("main-only", "true", when="branch == 'main'"),
            stage("other", "true", when="branch == 'develop'"),
            stage("by-version", "true", when="'${ESTAFETTE_BUILD_VERSION}' == '1.0.0'"),
        ]
    )
    assert [sink.step(name).status for name in ("main-only", "other", "by-version")] == [
        "SUCCEEDED",
        "SKIPPED",
        "SUCCEEDED",
    ]


def test_it_runs_parallel_stages_concurrently_and_fails_the_wrapper_when_one_fails(tmp_path: Path) -> None:
    # given two parallel stages that each wait for the other's marker (a deadlock if run one after the other)
    wait_for = "i=0; while [ ! -f {0} ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; test -f {0}"
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    wrapper = StagePlan(
        name="checks",
        parallel_stages=(
            stage("left", "touch left", wait_for.format("right")),
            stage("right", "touch right", wait_for.format("left")),
            stage("broken", "exit 4"),
            stage("skipped", "true", when="status == 'failed'"),
        ),
    )
    # when run
    final = runner.run([wrapper, stage("after", "true")])
    # then both waiting stages succeeded, the wrapper failed because of the broken one
    assert sink.step("left", parent="checks").status == "SUCCEEDED"
    assert sink.step("right", parent="checks").status == "SUCCEEDED"
    assert (sink.step("broken").status, sink.step("broken").exit_code) == ("FAILED", 4)
    assert sink.step("skipped").status == "SKIPPED"
    assert any("Skipped: when expression" in text for text in sink.texts("skipped"))
    assert sink.step("checks").status == "FAILED"
    assert sink.step("after").status == "SKIPPED"
    assert final == "failed"


def test_it_skips_a_stage_with_its_parallel_stages_and_services(tmp_path: Path) -> None:
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    wrapper = StagePlan(
        name="deploy",
        when="branch == 'release'",
        parallel_stages=(stage("eu", "true"), stage("us", "true")),
        services=(ServicePlan(name="proxy", image="nginx", commands=("sleep 10",)),),
    )
    runner.run([wrapper])
    assert [sink.step(name).status for name in ("deploy", "eu", "us", "proxy")] == ["SKIPPED"] * 4


def http_service(name: str, port: int, directory: Path, **fields: object) -> ServicePlan:
    (directory / "ready").write_text("ok")
    return ServicePlan(
        name=name,
        image="python:3",
        commands=(f"{sys.executable} -m http.server {port} --bind 127.0.0.1 --directory {directory}",),
        readiness=ReadinessCheck(kind="http", port=port, path="/ready", timeout_seconds=20),
        **fields,  # type: ignore[arg-type]
    )


def test_it_starts_services_before_the_stage_waits_for_readiness_and_stops_them_after(tmp_path: Path) -> None:
    # given a stage using an HTTP service with a readiness check
    port = reserve_port()
    served = tmp_path / "served"
    served.mkdir()
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    tested = stage(
        "integration",
        f"{sys.executable} -c \"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}/ready').read())\"",
        services=(http_service("web", port, served),),
    )
    # when run
    final = runner.run([tested])
    # then the stage reached the service, which was stopped afterwards
    assert final == "succeeded"
    assert "b'ok'" in sink.texts("integration")
    web = sink.step("web", parent="integration")
    assert web.status == "SUCCEEDED"
    assert sink.statuses("web")[:2] == ["PENDING", "RUNNING"]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_it_keeps_multi_stage_services_running_until_the_run_ends(tmp_path: Path) -> None:
    port = reserve_port()
    served = tmp_path / "served"
    served.mkdir()
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    reach = f"{sys.executable} -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/ready')\""
    stages = [
        StagePlan(name="services", services=(http_service("web", port, served, multi_stage=True),)),
        stage("first", reach),
        stage("second", reach),
    ]
    final = runner.run(stages)
    assert final == "succeeded"
    assert [sink.step(name).status for name in ("services", "first", "second", "web")] == ["SUCCEEDED"] * 4


def test_it_waits_for_an_exec_readiness_probe(tmp_path: Path) -> None:
    # given a service that becomes ready (creates a file) after a while
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    service = ServicePlan(
        name="slow",
        image="alpine",
        commands=("sleep 0.5", "touch slow-ready", "sleep 30"),
        readiness=ReadinessCheck(kind="exec", command=("test", "-f", "slow-ready"), timeout_seconds=10),
    )
    # when a stage needs it
    runner.run([stage("uses", "test -f slow-ready", services=(service,))])
    # then the stage ran only once it was ready
    assert sink.step("uses").status == "SUCCEEDED"


def test_it_fails_the_stage_when_a_service_never_becomes_ready(tmp_path: Path) -> None:
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    service = ServicePlan(
        name="never",
        image="alpine",
        commands=("sleep 30",),
        readiness=ReadinessCheck(kind="exec", command=("false",), timeout_seconds=1),
    )
    final = runner.run([stage("uses", "echo ran", services=(service,))])
    assert final == "failed"
    assert sink.step("uses").status == "FAILED"
    assert "ran" not in sink.texts("uses")
    assert any("is not ready" in text for text in sink.texts("never"))


def test_it_masks_secrets_even_when_split_across_writes(tmp_path: Path) -> None:
    # given a stage printing a secret in two separate writes, and its base64 form
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink, masker=Masker(["hunter2-password"]))
    # when run
    runner.run(
        [stage("leaky", "printf 'pw=hunter2-'; sleep 0.2; printf 'password\\n'", "printf hunter2-password | base64")]
    )
    # then neither form reaches the sink
    texts = sink.texts("leaky")
    assert f"pw={MASK}" in texts and MASK in texts
    assert not any("hunter2-password" in text or "aHVudGVyMi1wYXNzd29yZA" in text for text in texts)


def test_it_cancels_the_running_stage_and_everything_after_it(tmp_path: Path) -> None:
    # given a long stage
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink)
    threading.Timer(0.5, runner.cancel).start()
    # when canceled while it runs
    started = time.monotonic()
    final = runner.run([stage("long", "sleep 60"), stage("next", "true")])
    # then it stops quickly and everything is canceled
    assert time.monotonic() - started < 10
    assert final == "canceled"
    assert sink.step("long").status == "CANCELED"
    assert sink.step("next").status == "CANCELED"


def test_it_gives_the_stage_its_env_in_estafettes_precedence(tmp_path: Path) -> None:
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink, manifest_env={"WHO": "manifest", "GLOBAL": "g"})
    runner.run(
        [
            stage(
                "env",
                "echo $WHO $GLOBAL $ESTAFETTE_STAGE_NAME $ESTAFETTE_EXTENSION_FLAVOUR $ESTAFETTE_BUILD_STATUS",
                env={"WHO": "stage"},
                custom_properties={"flavour": "vanilla"},
            )
        ]
    )
    assert "stage g env vanilla succeeded" in sink.texts("env")


def test_it_mounts_credentials_for_trusted_images_and_refuses_commands_that_could_snoop(tmp_path: Path) -> None:
    # given a trusted image receiving registry credentials
    credential = Credential(name="hub", type="container-registry", additional_properties={"username": "u"})
    trusted = TrustedImage(path="extensions/docker", injected_credential_types=("container-registry",))
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink, credentials=(credential,), trusted_images=(trusted,))
    # when a stage with that image has commands
    final = runner.run([StagePlan(name="push", image="extensions/docker:stable", commands=("cat /credentials/*",))])
    # then it fails with Estafette's protection message
    assert final == "failed"
    assert COMMANDS_NOT_ALLOWED in sink.texts("push")
    # and with commands allowed, the credentials file is there (bwrap mounts it at /credentials; here: its directory)
    allowed = TrustedImage(
        path="extensions/docker", injected_credential_types=("container-registry",), allow_commands=True
    )
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink, credentials=(credential,), trusted_images=(allowed,))
    directory = runner._credentials_dir(allowed)
    assert directory is not None
    assert json.loads((directory / "container_registry.json").read_text())[0]["additionalProperties"] == {
        "username": "u"
    }


class _UnpullableHost(HostExecutor):
    """The host executor with a registry that refuses every pull (as a missing image or bad credentials do)."""

    def pull(self, image: str, *, credentials: object = ()) -> object:
        raise PullError(f"pulling {image} failed: manifest unknown (token s3cr3t-pass)")


def test_it_reports_the_image_a_stage_failed_to_pull_with_the_reason(tmp_path: Path) -> None:
    # given a stage whose image cannot be pulled, and a secret the error text happens to contain
    sink = RecordingSink()
    runner = make_runner(tmp_path, sink, executor=_UnpullableHost(sandbox=False), masker=Masker(["s3cr3t-pass"]))
    # when run
    final = runner.run([StagePlan(name="build", image="acme/missing:1.2", commands=("true",))])
    # then the step failed and carries its image with the (masked) reason, as Estafette's log header shows it
    assert final == "failed"
    step = sink.step("build")
    assert step.image is not None and (step.image.name, step.image.tag) == ("acme/missing", "1.2")
    assert "manifest unknown" in step.image.error and "s3cr3t-pass" not in step.image.error
    assert MASK in step.image.error
