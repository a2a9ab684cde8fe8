"""Job mode end to end: ``python -m builder job`` as a process, reporting to the fake API over HTTP."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.contracts import BuilderConfig
from builder.secrets import MASK, encrypt, generate_key, parse_key
from builder.testing import FakeApi

REPO = Path(__file__).resolve().parents[2]


def make_config(api: FakeApi, stages: list[dict], **extra: object) -> dict:
    config = {
        "jobType": "build",
        "build": {"id": "101"},
        "jobName": "build-acme-api-101",
        "git": {
            "repoSource": "github.com",
            "repoOwner": "acme",
            "repoName": "api",
            "repoBranch": "main",
            "repoRevision": "f" * 40,
        },
        "version": {"version": "1.0.7", "major": 1, "minor": 0, "patch": "7", "currentCounter": 7},
        "manifest": {"labels": {"team": "core"}, "env": {"GREETING": "hello"}},
        "stages": stages,
        "ciServer": api.ci_server().to_dict(),
    }
    config.update(extra)
    BuilderConfig.from_dict(config)  # the test writes valid configurations
    return config


def start_job(tmp_path: Path, config: dict, *, key: str | None = None, **env: str) -> subprocess.Popen[str]:
    config_file = tmp_path / "builder-config.json"
    config_file.write_text(json.dumps(config))
    argv = [sys.executable, "-m", "builder", "job", "--config", str(config_file), "--executor", "host"]
    argv += ["--workspace", str(tmp_path / "work")]
    if key is not None:
        key_file = tmp_path / "key"
        key_file.write_text(key)
        argv += ["--secret-key-file", str(key_file)]
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), **env}
    return subprocess.Popen(
        argv, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_job(tmp_path: Path, config: dict, **kwargs: object) -> subprocess.CompletedProcess[str]:
    process = start_job(tmp_path, config, **kwargs)  # type: ignore[arg-type]
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_it_runs_a_build_and_reports_statuses_and_masked_logs(tmp_path: Path) -> None:
    # given a build whose stage prints a secret, with a parallel stage that fails
    key = generate_key()
    secret = encrypt("correct-horse-battery", key=parse_key(key), allow_list="github.com/acme/api")
    with FakeApi() as api:
        config = make_config(
            api,
            [
                {
                    "name": "build",
                    "image": "golang",
                    "commands": ["echo $GREETING $PASSWORD $ESTAFETTE_LABEL_TEAM"],
                    "env": {"PASSWORD": secret},
                },
                {
                    "name": "checks",
                    "parallelStages": [
                        {"name": "lint", "image": "alpine", "commands": ["echo lint ok"]},
                        {"name": "unit", "image": "alpine", "commands": ["exit 2"]},
                    ],
                },
                {"name": "notify", "image": "alpine", "when": "status == 'failed'", "commands": ["echo failed"]},
            ],
        )
        # when the job runs
        result = run_job(tmp_path, config, key=key)
        # then it exits 0 after reporting the failure
        assert result.returncode == 0, result.stderr
        assert api.stored_statuses() == ["running", "failed"]
        assert api.statuses[-1].log_batches == len(api.batches)
        assert sorted(api.batches) == list(range(1, len(api.batches) + 1))
        steps = {step.step: step for step in api.steps()}
        assert list(steps) == ["builder-info", "build", "checks", "notify"]
        assert steps["builder-info"].auto_injected
        assert f"hello {MASK} core" in api.texts("build")
        assert not any("correct-horse-battery" in line.log_line.text for line in api.stored_lines() if line.log_line)
        assert steps["build"].status == "SUCCEEDED"
        assert steps["checks"].status == "FAILED"
        assert {nested.step: nested.status for nested in steps["checks"].nested_steps} == {
            "lint": "SUCCEEDED",
            "unit": "FAILED",
        }
        assert steps["notify"].status == "SUCCEEDED"


def test_it_fails_with_an_init_step_when_a_secret_belongs_to_another_pipeline(tmp_path: Path) -> None:
    key = generate_key()
    foreign = encrypt("not-yours", key=parse_key(key), allow_list="github.com/other/repo")
    with FakeApi() as api:
        config = make_config(
            api, [{"name": "build", "image": "alpine", "commands": ["echo ran"], "env": {"X": foreign}}]
        )
        result = run_job(tmp_path, config, key=key)
        assert result.returncode == 0
        assert api.stored_statuses() == ["running", "failed"]
        init = next(step for step in api.steps() if step.step == "init")
        assert (init.status, init.exit_code) == ("FAILED", -1)
        assert "restricted to another pipeline" in init.log_lines[0].text
        assert api.texts("build") == []


def test_it_cancels_on_sigterm_reports_canceled_and_exits_zero(tmp_path: Path) -> None:
    # given a job in a long stage
    with FakeApi() as api:
        config = make_config(
            api,
            [
                {"name": "long", "image": "alpine", "commands": ["sleep 120"]},
                {"name": "next", "image": "alpine", "commands": ["true"]},
            ],
        )
        process = start_job(tmp_path, config)
        api.wait_until(
            lambda fake: any(line.step == "long" and line.status == "RUNNING" for line in fake.stored_lines()),
            timeout=30,
        )
        # when the pod is deleted (SIGTERM)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        # then it stopped within the grace, reported canceled and exited 0
        assert time.monotonic() - started < 12
        assert process.returncode == 0
        assert api.stored_statuses() == ["running", "canceled"]
        steps = {step.step: step.status for step in api.steps()}
        assert steps["long"] == "CANCELED" and steps["next"] == "CANCELED"


def test_it_reads_the_configuration_and_key_from_the_environment(tmp_path: Path) -> None:
    key = generate_key()
    secret = encrypt("env-provided-secret", key=parse_key(key))
    with FakeApi() as api:
        config = make_config(
            api, [{"name": "build", "image": "alpine", "commands": ["echo [$S]"], "env": {"S": secret}}]
        )
        argv = [sys.executable, "-m", "builder", "job", "--executor", "host"]
        environment = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(REPO),
            "ESTAFETTE_BUILDER_CONFIG": json.dumps(config),
            "ESTAFETTE_BUILDER_SECRET_KEY": key,
        }
        result = subprocess.run(
            argv, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        assert api.stored_statuses() == ["running", "succeeded"]
        assert f"[{MASK}]" in api.texts("build")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not JSON"), ('{"jobType": "build"}', "git: is required")],
)
def test_it_exits_2_with_a_reason_when_the_configuration_is_unusable(
    tmp_path: Path, content: str, message: str
) -> None:
    config_file = tmp_path / "config.json"
    config_file.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "builder", "job", "--config", str(config_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
