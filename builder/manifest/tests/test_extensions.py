"""Custom properties as ESTAFETTE_EXTENSION_* variables (ESTAFETTE.md §1.7.1)."""

from __future__ import annotations

import json

import pytest
import yaml

from builder.manifest.extensions import extension_env, upper_snake
from builder.manifest.tests.helpers import load


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("repositories", "REPOSITORIES"),
        ("no-cache", "NO_CACHE"),
        ("unknownProperty1", "UNKNOWN_PROPERTY1"),
        ("UserID", "USER_ID"),
        ("PubSub", "PUB_SUB"),
        ("dry.run", "DRY_RUN"),
    ],
)
def test_it_names_variables_in_upper_snake_case(name: str, expected: str) -> None:
    # given a property name
    # when it becomes a variable name
    # then it is upper snake case
    assert upper_snake(name) == expected


def test_it_turns_custom_properties_into_extension_variables() -> None:
    # given a stage with custom properties of every kind
    stage = load(
        """\
        stages:
          push:
            image: extensions/docker:stable
            env: {VERBOSE: 'true'}
            action: push
            repositories: [extensions, estafette]
            no-cache: true
            replicas: 3
            ratio: 0.5
            container: {name: gke, tag: alpha}
            mixed: [a, 1]
        """
    ).stages[0]

    # when its extension variables are made
    variables = extension_env(stage.custom_properties, stage.env)

    # then scalars and string lists are variables, maps and mixed lists only appear in the whole-map forms
    whole = {**stage.custom_properties, "env": {"VERBOSE": "true"}}
    assert variables == {
        "ESTAFETTE_EXTENSION_ACTION": "push",
        "ESTAFETTE_EXTENSION_REPOSITORIES": "extensions,estafette",
        "ESTAFETTE_EXTENSION_NO_CACHE": "true",
        "ESTAFETTE_EXTENSION_REPLICAS": "3",
        "ESTAFETTE_EXTENSION_RATIO": "0.5",
        "ESTAFETTE_EXTENSION_CUSTOM_PROPERTIES": json.dumps(whole, sort_keys=True, separators=(",", ":")),
        "ESTAFETTE_EXTENSION_CUSTOM_PROPERTIES_YAML": variables["ESTAFETTE_EXTENSION_CUSTOM_PROPERTIES_YAML"],
    }
    assert yaml.safe_load(variables["ESTAFETTE_EXTENSION_CUSTOM_PROPERTIES_YAML"]) == whole


def test_it_always_sets_the_whole_map_forms() -> None:
    # given a stage without custom properties
    # when its extension variables are made
    variables = extension_env({}, {"A": "b"})

    # then the whole-map forms are empty maps
    assert variables == {
        "ESTAFETTE_EXTENSION_CUSTOM_PROPERTIES": "{}",
        "ESTAFETTE_EXTENSION_CUSTOM_PROPERTIES_YAML": "{}\n",
    }


def test_it_formats_numbers_as_go_does() -> None:
    # given floats from a dict form (JSON) rather than YAML
    variables = extension_env({"big": 1e21, "small": 0.0001, "whole": 2.0}, {})

    # when they become variables
    # then they use Go's shortest decimal text
    assert [variables[f"ESTAFETTE_EXTENSION_{name}"] for name in ("BIG", "SMALL", "WHOLE")] == ["1e+21", "0.0001", "2"]
