"""Stages and services: parsing, defaults and validation (ESTAFETTE.md §1.7; stage_test.go, service_test.go)."""

from __future__ import annotations

from typing import Any

import pytest

from builder.manifest import Stage
from builder.manifest.tests.helpers import errors_of, load

WINDOWS = "builder:\n  os: windows\n"


@pytest.mark.parametrize(
    ("prefix", "body", "expected"),
    [
        ("", "{image: golang}", {"shell": "/bin/sh", "work_dir": "/estafette-work", "when": "status == 'succeeded'"}),
        (WINDOWS, "{image: golang}", {"shell": "powershell", "work_dir": "C:/estafette-work"}),
        ("", "{image: golang, shell: /bin/bash, workDir: /go/src}", {"shell": "/bin/bash", "work_dir": "/go/src"}),
        ("", "{image: golang, when: \"status == 'failed'\"}", {"when": "status == 'failed'"}),
        ("", "{image: golang, runCommandsInForeground: true}", {"run_commands_in_foreground": True}),
        (
            "",
            "{image: golang, env: {CGO_ENABLED: 0, GOGC: off, V: 3.0}}",
            {"env": {"CGO_ENABLED": "0", "GOGC": "false", "V": "3"}},
        ),
    ],
)
def test_it_defaults_stages(prefix: str, body: str, expected: dict[str, Any]) -> None:
    # given a stage
    # when it is loaded
    stage = load(f"{prefix}stages:\n  build: {body}\n").stages[0]

    # then it has Estafette's defaults (per OS) and keeps what is set
    assert {key: getattr(stage, key) for key in expected} == expected


def test_it_keeps_unknown_stage_keys_as_custom_properties() -> None:
    # given a stage with keys Estafette does not know
    text = """\
        stages:
          deploy:
            image: extensions/gke:stable
            name: ignored
            credentials: gke-tooling
            dryrun: true
            replicas: 3
            ratio: 0.5
            nothing:
            tags: [a, b]
            container: {repository: extensions, cpu: {request: 100m}}
            retries: 3
        """

    # when it is loaded
    stage = load(text).stages[0]

    # then they are custom properties, typed as Estafette keeps them, and reserved names are not among them
    assert stage.name == "deploy"
    assert stage.custom_properties == {
        "credentials": "gke-tooling",
        "dryrun": True,
        "replicas": 3,
        "ratio": "0.5",
        "nothing": None,
        "tags": ["a", "b"],
        "container": {"repository": "extensions", "cpu": {"request": "100m"}},
        "retries": 3,
    }


def test_it_reads_parallel_stages_in_order_without_defaulting_the_wrapper() -> None:
    # given a wrapper with two parallel stages, one naming itself
    text = """\
        stages:
          group:
            parallelStages:
              stageA:
                image: docker
              stageB:
                name: renamed
                image: docker
        """

    # when it is loaded
    wrapper = load(text).stages[0]

    # then the nested stages are defaulted and keep their order; the wrapper only gets `when`
    assert [stage.name for stage in wrapper.parallel_stages] == ["stageA", "renamed"]
    assert [stage.shell for stage in wrapper.parallel_stages] == ["/bin/sh", "/bin/sh"]
    assert (wrapper.shell, wrapper.work_dir, wrapper.when) == ("", "", "status == 'succeeded'")


def test_it_reads_a_null_stage_body_as_an_empty_stage() -> None:
    # given a stage without body
    # when it is loaded
    # then it is an empty stage, which has no image
    assert errors_of("stages:\n  tooling:\n") == [".estafette.yaml:2:3: Stage tooling has no image set"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{}", ["2:3: Stage build has no image set"]),
        ("{image: ''}", ["2:3: Stage build has no image set"]),
        (
            "{image: golang, shell: sh, workDir: /w, commands: [make], env: {A: b}, parallelStages: {a: {image: x}}}",
            [
                "2:18: Stage build cannot use parameters parallelStages and image at the same time",
                "2:33: Stage build cannot use parameters parallelStages and shell at the same time",
                "2:46: Stage build cannot use parameters parallelStages and workDir at the same time",
                "2:60: Stage build cannot use parameters parallelStages and commands at the same time",
                "2:73: Stage build cannot use parameters parallelStages and env at the same time",
            ],
        ),
        ("{image: [golang]}", ["2:18: field image: cannot unmarshal !!seq into string"]),
        ("{image: golang, commands: make}", ["2:36: field commands: cannot unmarshal !!str `make` into []string"]),
        ("{image: golang, env: [A]}", ["2:31: field env: cannot unmarshal !!seq into map[string]string"]),
        ("[image, golang]", ["2:10: cannot unmarshal !!seq into manifest.EstafetteStage"]),
    ],
)
def test_it_validates_stages_with_estafettes_messages(body: str, expected: list[str]) -> None:
    # given a stage with problems
    # when the manifest is loaded
    # then each is reported at its place
    assert errors_of(f"stages:\n  build: {body}\n") == [f".estafette.yaml:{error}" for error in expected]


@pytest.mark.parametrize(
    "body",
    [
        "{image: golang}",
        "{services: [{name: db, image: postgres}]}",  # a services-only stage is valid
        "{parallelStages: {a: {image: x}, b: {}}}",  # nested stages are not validated one by one
    ],
)
def test_it_accepts_valid_stages(body: str) -> None:
    # given a valid stage
    # when it is loaded
    # then there is no error
    assert len(load(f"stages:\n  build: {body}\n").stages) == 1


@pytest.mark.parametrize(
    ("stage", "expected_multi_stage"),
    [
        ("image: golang\n    services: [{name: db, image: postgres}]", False),
        ("services: [{name: db, image: postgres}]", True),
        ("services: [{name: db, image: postgres, multiStage: false}]", False),
        ("image: golang\n    services: [{name: db, image: postgres, multiStage: true}]", True),
    ],
)
def test_it_makes_services_of_stages_without_image_multi_stage(stage: str, expected_multi_stage: bool) -> None:
    # given a service of a stage with or without image
    # when it is loaded
    service = load(f"stages:\n  test:\n    {stage}\n").stages[0].services[0]

    # then it keeps running across stages exactly when its stage has no image, unless set
    assert service.multi_stage is expected_multi_stage


@pytest.mark.parametrize(
    ("readiness", "expected"),
    [
        (
            "readiness: {path: /ready}",
            {"readiness": {"path": "/ready", "port": 80, "protocol": "http", "hostname": "db", "timeoutSeconds": 60}},
        ),
        (
            "readiness: {path: /ready, port: 443, timeoutSeconds: 120, hostname: db.local}",
            {
                "readiness": {
                    "path": "/ready",
                    "port": 443,
                    "protocol": "https",
                    "hostname": "db.local",
                    "timeoutSeconds": 120,
                }
            },
        ),
        (
            "readinessProbe: {httpGet: {path: /health}}",
            {
                "readinessProbe": {
                    "httpGet": {"path": "/health", "port": 80, "host": "db", "scheme": "http"},
                    "timeoutSeconds": 60,
                }
            },
        ),
        (
            "readinessProbe: {exec: {command: [pg_isready]}}",
            {"readinessProbe": {"exec": {"command": ["pg_isready"]}, "timeoutSeconds": 60}},
        ),
    ],
)
def test_it_defaults_service_readiness(readiness: str, expected: dict[str, Any]) -> None:
    # given a service with a readiness probe
    text = (
        f"builder: {{os: windows}}\nstages:\n  test:\n    services:\n    - {{name: db, image: postgres, {readiness}}}\n"
    )

    # when it is loaded
    service = load(text).stages[0].services[0]

    # then the probe has Estafette's defaults, and the service the OS's shell and the default when
    data = service.to_dict()
    assert {key: data[key] for key in expected} == expected
    assert (service.shell, service.when) == ("powershell", "status == 'succeeded'")


def test_it_keeps_unknown_service_keys_as_custom_properties() -> None:
    # given a service with keys Estafette does not know (services have no workDir)
    text = "stages:\n  test:\n    services:\n    - {name: db, image: postgres, workDir: /x, cpu: {limit: 1}}\n"

    # when it is loaded
    # then they are custom properties
    assert load(text).stages[0].services[0].custom_properties == {"workDir": "/x", "cpu": {"limit": 1}}


def test_it_round_trips_a_stage_through_its_dict_form() -> None:
    # given a stage with every kind of field
    text = """\
        stages:
          test:
            image: golang
            commands: [make]
            env: {A: b}
            autoInjected: true
            services:
            - name: db
              image: postgres
              readinessProbe: {httpGet: {path: /h, port: 8080}}
            extra: {deep: [1, true, x]}
        """
    stage = load(text).stages[0]

    # when it goes to its dict form and back
    # then it is the same stage
    assert Stage.from_dict(stage.to_dict()) == stage
