"""The JSON Schema is valid draft 2020-12 and accepts every corpus manifest as written."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from builder.manifest.schema import manifest_schema
from builder.manifest.tests.corpus import FIXTURES, REAL_MANIFESTS, VALID_FIXTURES

VALIDATOR = jsonschema.Draft202012Validator(manifest_schema())


def test_it_is_a_valid_draft_2020_12_schema() -> None:
    # given the schema
    # when it is checked against the metaschema
    # then it is valid
    jsonschema.Draft202012Validator.check_schema(manifest_schema())


@pytest.mark.parametrize("path", [*REAL_MANIFESTS, *VALID_FIXTURES], ids=lambda path: path.name)
def test_it_accepts_every_corpus_manifest(path: Path) -> None:
    # given a corpus manifest as an editor's YAML language server reads it
    document = yaml.safe_load(path.read_text())

    # when it is checked against the schema
    problems = [f"{list(error.absolute_path)}: {error.message}" for error in VALIDATOR.iter_errors(document)]

    # then there is nothing to complain about
    assert problems == []


@pytest.mark.parametrize(
    "document",
    [
        {"unknownProperty": True},
        {"builder": {"os": "solaris"}},
        {"builder": {"trak": "dev"}},
        {"version": {"semver": {"major": "one"}}},
        {"triggers": [{"gti": {"repository": "a/b/c"}}]},
        {"stages": {"build": {"services": [{"readiness": {"port": "eighty"}}]}}},
    ],
)
def test_it_rejects_what_estafette_rejects(document: dict[str, object]) -> None:
    # given a document Estafette would not read
    # when it is checked against the schema
    # then the schema flags it as well
    assert not VALIDATOR.is_valid(document)


def test_it_rejects_the_non_strict_fixture() -> None:
    # given Estafette's fixture with an unknown top-level key
    document = yaml.safe_load((FIXTURES / "test-non-strict-manifest.yaml").read_text())

    # when it is checked against the schema
    # then it is invalid
    assert not VALIDATOR.is_valid(document)
