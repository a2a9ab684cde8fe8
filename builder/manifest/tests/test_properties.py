"""Property tests: whatever text comes in, the library answers with a manifest or its own errors."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.manifest import Manifest, ManifestErrors, load_manifest
from builder.manifest.tests.corpus import REAL_MANIFESTS, VALID_FIXTURES
from builder.manifest.when import WhenError, evaluate_when

CORPUS_TEXTS = [path.read_text() for path in [*VALID_FIXTURES, *REAL_MANIFESTS[:20]]]
KEYS = [
    "archived", "builder", "labels", "version", "env", "triggers", "stages", "pipelines", "releases",
    "releaseTemplates", "bots", "image", "shell", "workDir", "commands", "when", "services", "parallelStages",
    "semver", "custom", "major", "releaseBranch", "pipeline", "release", "git", "cron", "schedule", "github",
    "events", "builds", "releases", "runs", "name", "track", "os", "readiness", "httpGet", "port", "clone",
    "template", "multiStage", "<<",
]  # fmt: skip
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "yes", "off", "~", "0x1F", "1e3", ".inf", "{{auto}}", "*/5 * * * *", "self", "windows"]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
    max_leaves=40,
)


def assert_only_manifest_errors(text: str) -> None:
    try:
        manifest = load_manifest(text, path="fuzz.yaml")
    except ManifestErrors as exc:
        assert exc.errors, "ManifestErrors without errors"
        for error in exc.errors:
            assert error.line >= 1 and error.column >= 1 and error.message
            assert str(error).startswith("fuzz.yaml:")
        return
    assert isinstance(manifest, Manifest)
    assert Manifest.from_dict(manifest.to_dict()).to_dict() == manifest.to_dict()


@SETTINGS
@given(st.text(st.characters(codec=None, categories=None), max_size=300))
def test_it_raises_only_manifest_errors_for_any_text(text: str) -> None:
    # given any text
    # when it is loaded
    # then it is a manifest or ManifestErrors, nothing else
    assert_only_manifest_errors(text)


@SETTINGS
@given(st.dictionaries(keys, documents, max_size=8))
def test_it_raises_only_manifest_errors_for_any_yaml_document(document: dict[str, Any]) -> None:
    # given any YAML mapping built from manifest-like keys and values
    text = yaml.safe_dump(document, allow_unicode=True)

    # when it is loaded
    # then it is a manifest or ManifestErrors, nothing else
    assert_only_manifest_errors(text)


mutations = st.lists(
    st.tuples(
        st.sampled_from(["delete", "insert", "replace", "duplicate-line"]),
        st.floats(min_value=0, max_value=1),
        st.text(alphabet=" \t\n:-{}[]&*!|>'\"#%@`,?abc01", max_size=6),
    ),
    min_size=1,
    max_size=6,
)


def mutate(text: str, edits: list[tuple[str, float, str]]) -> str:
    for operation, where, fragment in edits:
        at = int(where * len(text))
        if operation == "delete":
            text = text[:at] + text[at + len(fragment) + 1 :]
        elif operation == "insert":
            text = text[:at] + fragment + text[at:]
        elif operation == "replace":
            text = text[:at] + fragment + text[at + len(fragment) :]
        else:
            lines = text.splitlines(keepends=True)
            if lines:
                index = min(int(where * len(lines)), len(lines) - 1)
                lines.insert(index, lines[index])
            text = "".join(lines)
    return text


@SETTINGS
@given(st.sampled_from(CORPUS_TEXTS), mutations)
def test_it_raises_only_manifest_errors_for_mutated_real_manifests(
    text: str, edits: list[tuple[str, float, str]]
) -> None:
    # given a real manifest with random edits
    # when it is loaded
    # then it is a manifest or ManifestErrors, nothing else
    assert_only_manifest_errors(mutate(text, edits))


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            ["status", "branch", "'main'", "1", "2.5", "==", "!=", "&&", "||", "!", "(", ")", ",", "in", "=~", "?", ":",
             "??", "<", ">=", "+", "-", "*", "/", "%", "true", "'(", "[branch]", "$ESTAFETTE_X", "unknown"]
        ),
        max_size=12,
    ).map(" ".join)
    | st.text(max_size=40)
)  # fmt: skip
def test_it_evaluates_any_when_expression_to_a_bool_or_a_when_error(expression: str) -> None:
    # given any expression
    # when it is evaluated
    try:
        result = evaluate_when(expression, {"status": "succeeded", "branch": "main"}, {"ESTAFETTE_X": "'x'"})
    except WhenError as exc:
        # then it failed with a message
        assert str(exc)
        return
    # or it gave a boolean
    assert isinstance(result, bool)
