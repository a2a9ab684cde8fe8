"""``load_json``: the one way a request body becomes JSON (UTF-8, strict, nested at most MAX_DEPTH deep)."""

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estafette.lib.json_input import MAX_DEPTH, InvalidJson, check_depth, load_json

pytestmark = pytest.mark.pure


def nested(depth: int, *, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


@pytest.mark.parametrize(
    "body",
    [
        nested(990).encode(),  # what turned into a 500 (RecursionError)
        nested(200_000).encode(),
        ('{"a":' * 100_000 + "1" + "}" * 100_000).encode(),
        ("[" * 5000 + "}").encode(),  # unbalanced: a parser would recurse before seeing the mismatch
        ("[" * 100_000).encode(),
        nested(MAX_DEPTH + 1).encode(),
    ],
    ids=["990 arrays", "200k arrays", "100k objects", "5000 then a wrong closer", "openers only", "one too deep"],
)
def test_it_refuses_json_nested_deeper_than_the_limit_without_recursing(body: bytes) -> None:
    with pytest.raises(InvalidJson, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_json(body)


def test_it_takes_json_nested_exactly_to_the_limit() -> None:
    value: Any = 1
    for level in range(MAX_DEPTH):
        value = {"a": value} if level % 2 else [value]
    assert check_depth(json.dumps(value)) == MAX_DEPTH
    assert load_json(json.dumps(value)) == value
    with pytest.raises(InvalidJson):
        load_json(json.dumps([value]))


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"text": "[" * 1000 + '\\"{{{ "quoted" ' + "}" * 7, "list": [["]]"]]})
    assert check_depth(text) == 3
    assert load_json(text)["text"].startswith("[[[")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8: invalid byte at offset 0"),
        (b'{"a": 1', "not JSON: Expecting ',' delimiter at line 1 column 8"),
        (b"[}", "not JSON"),
        (b"", "not JSON: Expecting value"),
        (b'{"n": NaN}', "NaN is not a JSON number"),
        (b"[Infinity]", "Infinity is not a JSON number"),
        (b"[" + b"9" * 5000 + b"]", "not JSON this server accepts"),  # more digits than Python converts
    ],
)
def test_it_refuses_malformed_bodies_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidJson) as error:
        load_json(body)
    assert reason in str(error.value)


def test_it_parses_ordinary_bodies() -> None:
    body = {"seq": 1, "lines": [{"step": "build", "logLine": {"line": 1, "text": "ünïcode ✓ [{"}}]}
    assert load_json(json.dumps(body, ensure_ascii=False).encode()) == body
    assert load_json(json.dumps(body)) == body


@pytest.mark.parametrize(
    "body",
    ['"' + '\\"' * 400_000, '"' + '\\"' * 400_000 + "\\", '["' + "a" * 1_000_000, '"\\' * 300_000],
    ids=["escaped quotes, unterminated", "and a lone backslash", "one long unterminated string", "backslashes"],
)
def test_the_scan_stays_linear_on_unterminated_strings(body: str) -> None:
    # A string the scan could not close was once searched again from every later quote: minutes for 800 KB.
    started = time.monotonic()
    with pytest.raises(InvalidJson, match="Unterminated string"):
        load_json(body.encode())
    assert time.monotonic() - started < 2


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('[]{}"\\ab,:\n')),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4),
    max_leaves=30,
)


@given(value=json_values)
@settings(max_examples=300)
def test_the_scan_measures_the_depth_the_parser_would_recurse_to(value: Any) -> None:
    assert check_depth(json.dumps(value)) == depth_of(value)
    assert check_depth(json.dumps(value, indent=1)) == depth_of(value)
