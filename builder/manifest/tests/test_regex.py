"""Estafette's patterns on RE2: Go's syntax and anchoring, checked against RE2's behaviour (ESTAFETTE.md §1.4, §1.5,
§1.10 "Regex semantics", §5.6), and the loader reporting patterns RE2 cannot compile where they are written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import re2
from hypothesis import given
from hypothesis import strategies as st

from builder.manifest.regex import (
    allow_list_error,
    allows,
    anchored_error,
    compile_go,
    filter_error,
    filter_match,
    full_match,
    pattern_error,
)
from builder.manifest.tests.helpers import A_STAGE, errors_of

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("[[:alpha:]]+", "abc", True),  # POSIX classes, which Python's re does not know
        ("[[:alpha:]]+", "ab1", False),
        ("[[:^digit:]]+", "abc", True),  # negated POSIX class
        ("[[:^digit:]]+", "a1", False),
        ("[[:xdigit:]]{6}", "00ffAA", True),
        ("[[:word:]]+-[[:punct:]]", "a_1-!", True),
        ("release/\\d+\\z", "release/12", True),  # \z, the end of the text
        ("\\pL+", "héllo", True),  # Unicode classes; RE2 matches UTF-8 like Go
        ("(?i)MAIN", "main", True),
        ("(?P<name>a)b", "ab", True),
        ("main", "main\n", False),  # $ is the end of the text in Go and RE2 (Python's $ also matches before \n)
        ("main", "Main", False),
        ("feature/.+", "feature/", False),
    ],
)
def test_filters_follow_re2_syntax(pattern: str, value: str, expected: bool) -> None:
    # given a pattern in Go/RE2 syntax
    # when a filter is matched
    # then the answer is RE2's own answer for ^(pattern)$, and the one expected from Go's regexp
    assert filter_match(pattern, value) is expected
    assert (re2.search(f"^({pattern})$", value) is not None) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "(a)\\1",  # backreference
        "(?=a)a",  # lookahead
        "(?!a)b",
        "(?<=a)b",  # lookbehind
        "(?<!a)b",
        "a\\Z",  # Python's end of text; not RE2's
        "a{1001}",  # RE2 and Go count at most 1000 repetitions
        "((a{100}){100}){100}",  # nested counts beyond RE2's budget
        "a(",
        "[z-a]",
        "a**",
    ],
)
def test_a_pattern_re2_cannot_compile_never_matches_and_says_why(pattern: str) -> None:
    # given a pattern RE2 rejects
    # when it is used as a filter, negated, a release branch, an allow-list
    # then nothing matches (and nothing is allowed), and each check names RE2's reason
    assert not filter_match(pattern, "a")
    assert not filter_match(f"!~ {pattern}", "a")
    assert not full_match(pattern, "a")
    assert not allows(pattern, "a")
    assert filter_error(pattern) and anchored_error(pattern) and allow_list_error(pattern)
    assert compile_go(pattern) is None
    assert pattern_error(pattern)


@pytest.mark.parametrize(
    ("pattern", "value", "filter_expected", "full_expected"),
    [
        # a trigger filter is ^(pattern)$; a release branch or label regex is ^pattern$ without the group
        ("master|main", "master", True, True),
        ("master|main", "mastery", False, True),  # ^master… matches the start
        ("master|main", "domain", False, True),  # …main$ matches the end
        ("master|main", "xmasterx", False, False),
        (" main ", "main", True, True),  # trimmed
    ],
)
def test_filters_and_release_branches_are_anchored_as_estafette_anchors_them(
    pattern: str, value: str, filter_expected: bool, full_expected: bool
) -> None:
    assert filter_match(pattern, value) is filter_expected
    assert full_match(pattern, value) is full_expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("!~ main", "main", False),
        ("!~ main", "feature", True),
        ("=~ feat.*", "feature", True),
        ("=~feat.*", "feature", True),
        ("!~(main|master)", "master", False),
    ],
)
def test_filters_take_promql_prefixes(pattern: str, value: str, expected: bool) -> None:
    assert filter_match(pattern, value) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("", "github.com/a/b", True),  # empty allows everything
        ("  ", "github.com/a/b", True),
        ("github.com/acme/.+", "github.com/acme/x", True),
        ("github.com/acme/.+", "github.com/other/x", False),
        ("github.com/acme/x|github.com/acme/y", "github.com/acme/xevil", False),  # ^(…)$ as contracts writes it
    ],
)
def test_allow_lists_match_the_whole_value(pattern: str, value: str, expected: bool) -> None:
    assert allows(pattern, value) is expected


@given(pattern=st.text(alphabet="ab()|*+?[]^$.\\{}0123:!~=", max_size=12), value=st.text(alphabet="ab\n", max_size=8))
def test_any_pattern_is_answered_and_negation_is_the_opposite_of_matching(pattern: str, value: str) -> None:
    # given any pattern text, valid or not, and a value
    matched = filter_match(f"=~{pattern}", value)

    # when it is negated
    negated = filter_match(f"!~{pattern}", value)

    # then a valid pattern gives opposite answers and an invalid one matches neither way
    if filter_error(pattern) is None:
        assert negated is not matched
    else:
        assert not matched and not negated


def test_without_re2_the_library_refuses_to_load_instead_of_falling_back() -> None:
    # given an interpreter where the RE2 bindings cannot be imported
    code = "import sys\nsys.modules['re2'] = None\nfrom builder.manifest import load_manifest\n"

    # when the manifest library is imported
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)

    # then it fails, naming the package to install
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "install the google-re2 package" in result.stderr


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            "git: {repository: github.com/a/b, branch: '(a)\\1'}",
            "2:45: Set git.branch in your trigger to a valid regular expression (RE2): invalid escape sequence: \\1",
        ),
        (
            "pipeline: {name: self, branch: '!~ (?!main)'}",
            "2:34: Set pipeline.branch in your trigger to a valid regular expression (RE2): invalid perl operator: (?!",
        ),
        (
            "release: {name: self, target: 'prod(', status: succeeded}",
            "2:33: Set release.target in your trigger to a valid regular expression (RE2): missing ): ^(prod()$",
        ),
        (
            "docker: {image: 'golang(?<=x)'}",
            "2:19: Set docker.image in your trigger to a valid regular expression (RE2): invalid perl operator: (?<=",
        ),
        (
            "pubsub: {project: p, topic: 'a{2000}'}",
            "2:31: Set pubsub.topic in your trigger to a valid regular expression (RE2): "
            "invalid repetition size: {2000}",
        ),
    ],
)
def test_a_trigger_pattern_re2_cannot_compile_is_a_manifest_error_at_its_value(trigger: str, expected: str) -> None:
    # given a trigger whose filter RE2 cannot compile
    text = f"triggers:\n- {trigger}\n  builds: {{}}\n{A_STAGE}"

    # when it is loaded, then the error points at the pattern
    assert errors_of(text) == [f".estafette.yaml:{expected}"]


def test_a_release_branch_re2_cannot_compile_is_a_manifest_error_at_its_item() -> None:
    # given release branches of which the second is a lookahead
    text = f"version:\n  semver:\n    releaseBranch:\n    - main\n    - '(?=release)r.*'\n{A_STAGE}"

    # when it is loaded, then the error points at that item
    assert errors_of(text) == [
        ".estafette.yaml:5:7: Set version.semver.releaseBranch to valid regular expressions (RE2): "
        "invalid perl operator: (?="
    ]


def test_a_lone_surrogate_is_answered_not_raised() -> None:
    # given a value and a pattern with a lone surrogate (a JSON or YAML "\ud800" escape), which is not UTF-8
    value, pattern = "feature/\ud800x", "feature/\ud800"

    # when they are matched, then the value is read as Go reads invalid UTF-8 and the pattern is an invalid one
    assert filter_match("feature/.+", value)
    assert filter_match("feature/\ufffd+x", value)
    assert not filter_match(pattern, value)
    assert filter_error(pattern) == "the pattern is not valid Unicode text (a lone surrogate)"
