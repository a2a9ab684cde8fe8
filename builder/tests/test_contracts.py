"""The wire types: camelCase JSON both ways, clear errors, versioning, the step tree."""

import json

import pytest

from builder.contracts import (
    CONTRACT_VERSION,
    MAX_LOG_BATCH_LINES,
    MAX_STEP_NAME_CHARS,
    BuilderConfig,
    BuildLogStep,
    ContractError,
    ImageInfo,
    LogBatch,
    LogLine,
    StatusEvent,
    StepTree,
    TailLogLine,
    aggregate_status,
)


def make_config_json(**overrides: object) -> dict:
    data = {
        "jobType": "release",
        "release": {"id": "77", "name": "production", "action": "deploy", "triggeredBy": "me@example.com"},
        "git": {
            "repoSource": "github.com",
            "repoOwner": "acme",
            "repoName": "api",
            "repoBranch": "main",
            "repoRevision": "a" * 40,
        },
        "version": {"version": "1.2.3", "major": 1, "minor": 2, "patch": "3", "label": "", "currentCounter": 3},
        "manifest": {"labels": {"app": "api"}, "stages": [{"name": "deploy", "image": "alpine"}]},
        "stages": [{"name": "deploy", "image": "alpine", "commands": ["echo hi"]}],
        "triggerEvents": [{"fired": True, "manual": {"userID": "me@example.com"}}],
        "ciServer": {
            "baseUrl": "https://ci",
            "statusUrl": "https://ci/s",
            "logsUrl": "https://ci/l",
            "jobToken": "t0k3n",
        },
        "credentials": [{"name": "gh", "type": "github-api-token", "additionalProperties": {"token": "x"}}],
        "trustedImages": [{"path": "extensions/docker", "runDocker": True, "injectedCredentialTypes": ["docker"]}],
        "resources": {"cpus": 1.5, "memoryBytes": 1073741824},
    }
    data.update(overrides)
    return data


def test_it_round_trips_a_builder_configuration_through_camel_case_json() -> None:
    # given Estafette-style JSON
    data = make_config_json()
    # when parsed and written back
    config = BuilderConfig.from_dict(data)
    again = BuilderConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    # then nothing is lost and the Python side reads naturally
    assert again == config
    assert config.release is not None and config.release.triggered_by == "me@example.com"
    assert config.trusted_images[0].injected_credential_types == ("docker",)
    assert config.run_id == "77"
    assert config.git.full_name == "github.com/acme/api"
    assert config.to_dict()["ciServer"]["jobToken"] == "t0k3n"
    assert config.to_dict()["contractVersion"] == CONTRACT_VERSION


def test_it_keeps_the_job_token_and_credentials_out_of_reprs() -> None:
    config = BuilderConfig.from_dict(make_config_json())
    assert "t0k3n" not in repr(config)
    assert "'token'" not in repr(config)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"jobType": "deploy"}, "jobType: expected one of build, release, bot, got 'deploy'"),
        ({"git": {"repoSource": 1}}, "git.repoSource: expected a string, got int"),
        ({"release": None}, "release: is required for jobType release"),
        ({"version": {"version": "1", "major": "one"}}, "version.major: expected an integer, got str"),
        ({"stages": {"name": "x"}}, "stages: expected a list, got dict"),
        ({"contractVersion": CONTRACT_VERSION + 1}, "newer than this side understands"),
    ],
)
def test_it_names_the_offending_field_of_a_bad_configuration(change: dict, message: str) -> None:
    with pytest.raises(ContractError) as raised:
        BuilderConfig.from_dict(make_config_json(**change))
    assert message in str(raised.value)


def test_it_reports_a_missing_required_field_with_its_path() -> None:
    data = make_config_json()
    del data["git"]["repoRevision"]
    with pytest.raises(ContractError, match=r"git\.repoRevision: is required"):
        BuilderConfig.from_dict(data)


def test_it_ignores_unknown_keys_so_newer_writers_stay_readable() -> None:
    config = BuilderConfig.from_dict(make_config_json(somethingNew={"x": 1}))
    assert config.job_type == "release"


def test_it_omits_unset_optional_fields_of_tail_lines() -> None:
    tail = TailLogLine(step="build", status="RUNNING")
    assert tail.to_dict() == {
        "step": "build",
        "parentStage": "",
        "type": "stage",
        "depth": 0,
        "runIndex": 0,
        "status": "RUNNING",
    }


def test_it_validates_log_batches_and_status_events() -> None:
    batch = LogBatch.from_dict(
        {
            "seq": 3,
            "lines": [{"step": "a", "logLine": {"line": 1, "timestamp": "t", "streamType": "stdout", "text": "x"}}],
        }
    )
    assert batch.lines[0].log_line == LogLine(line=1, timestamp="t", stream_type="stdout", text="x")
    with pytest.raises(ContractError, match="seq: must be 1 or more"):
        LogBatch.from_dict({"seq": 0, "lines": []})
    with pytest.raises(ContractError, match=r"lines\[0\]\.logLine\.streamType"):
        LogBatch.from_dict(
            {
                "seq": 1,
                "lines": [{"step": "a", "logLine": {"line": 1, "timestamp": "t", "streamType": "x", "text": ""}}],
            }
        )
    with pytest.raises(ContractError, match="status: is required"):
        StatusEvent.from_dict({"eventType": "updateStatus", "jobType": "build", "id": "1", "timestamp": "t"})
    heartbeat = StatusEvent.from_dict({"eventType": "heartbeat", "jobType": "bot", "id": "1", "timestamp": "t"})
    assert heartbeat.status is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"step": ""}, "lines[0].step: must be a stage or service name of 1 to 256 characters"),
        ({"step": "\t "}, "lines[0].step: must be a stage or service name"),
        ({"step": "s" * 257}, "lines[0].step: must be a stage or service name"),
        ({"step": "s", "parentStage": "p" * 257}, "lines[0].parentStage: must be a stage name of at most 256"),
        ({"step": "s", "depth": -1}, "lines[0].depth: must be at least 0, got -1"),
        ({"step": "s", "runIndex": -2}, "lines[0].runIndex: must be at least 0, got -2"),
        (
            {"step": "s", "logLine": {"line": -1, "timestamp": "t", "streamType": "stdout", "text": ""}},
            "lines[0].logLine.line: must be at least 0, got -1",
        ),
    ],
)
def test_it_refuses_tail_lines_the_log_store_cannot_keep(line: dict, message: str) -> None:
    with pytest.raises(ContractError) as raised:
        LogBatch.from_dict({"seq": 1, "lines": [line]})
    assert message in str(raised.value)


def test_it_takes_the_longest_names_and_the_largest_batch_the_log_store_keeps() -> None:
    longest = {"step": "s" * MAX_STEP_NAME_CHARS, "parentStage": "p" * MAX_STEP_NAME_CHARS, "depth": 0, "runIndex": 0}
    batch = LogBatch.from_dict({"seq": 1, "lines": [longest] * MAX_LOG_BATCH_LINES})
    assert len(batch.lines) == MAX_LOG_BATCH_LINES
    with pytest.raises(ContractError, match=f"lines: a batch holds at most {MAX_LOG_BATCH_LINES} lines, got 10001"):
        LogBatch.from_dict({"seq": 1, "lines": [longest] * (MAX_LOG_BATCH_LINES + 1)})


def _line(step: str, text: str, n: int, **kwargs: object) -> TailLogLine:
    return TailLogLine(step=step, log_line=LogLine(line=n, timestamp="t", stream_type="stdout", text=text), **kwargs)  # type: ignore[arg-type]


def test_it_folds_tail_lines_into_a_step_tree_with_nested_stages_and_services() -> None:
    # given updates for a stage with a service, and a parallel wrapper with two nested stages
    tree = StepTree()
    tree.apply_all(
        [
            TailLogLine(step="test", status="RUNNING", auto_injected=False),
            TailLogLine(step="db", parent_stage="test", type="service", status="RUNNING"),
            _line("db", "ready", 1, parent_stage="test", type="service"),
            _line("test", "ok", 1),
            TailLogLine(step="test", status="SUCCEEDED", exit_code=0, duration=5),
            TailLogLine(step="checks", status="RUNNING"),
            _line("lint", "linting", 1, parent_stage="checks", depth=1),
            TailLogLine(step="unit", parent_stage="checks", depth=1, status="FAILED", exit_code=2),
            TailLogLine(step="cache", parent_stage="unit", type="service", depth=1, status="SUCCEEDED"),
            TailLogLine(step="checks", status="FAILED", image=ImageInfo(name="x")),
        ]
    )
    # when the tree is read
    steps = tree.steps()
    # then each update landed on its step
    assert [step.step for step in steps] == ["test", "checks"]
    test, checks = steps
    assert (test.status, test.exit_code, test.duration, [line.text for line in test.log_lines]) == (
        "SUCCEEDED",
        0,
        5,
        ["ok"],
    )
    assert test.services[0].step == "db" and test.services[0].log_lines[0].text == "ready"
    assert [nested.step for nested in checks.nested_steps] == ["lint", "unit"]
    assert checks.nested_steps[1].status == "FAILED" and checks.nested_steps[1].services[0].step == "cache"
    assert checks.image == ImageInfo(name="x")
    # and the tree serialises as Estafette's BuildLog steps
    assert BuildLogStep.from_dict(checks.to_dict()) == checks


def test_it_aggregates_step_statuses_as_estafette_does() -> None:
    def step(name: str, status: str) -> BuildLogStep:
        return BuildLogStep(step=name, status=status)  # type: ignore[arg-type]

    assert aggregate_status([step("a", "SUCCEEDED"), step("b", "SKIPPED")]) == "succeeded"
    assert aggregate_status([step("a", "FAILED"), step("b", "SUCCEEDED")]) == "failed"
    assert aggregate_status([step("a", "FAILED"), step("a", "SUCCEEDED")]) == "succeeded"  # a re-run replaces
    assert aggregate_status([step("a", "SUCCEEDED"), step("b", "CANCELED")]) == "canceled"
