"""What the library refuses to read: manifests over 1 MiB, bytes that are not UTF-8, aliases that expand a small
text without bound, runs with more stages than a job should execute (``builder/manifest/limits.py``)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from builder.manifest import ManifestErrors, load_manifest
from builder.manifest.cli import main
from builder.manifest.limits import (
    MAX_EXPANDED_TEXT,
    MAX_MANIFEST_BYTES,
    MAX_STAGES_PER_RUN,
    decode_manifest,
    storable_text,
)
from builder.manifest.tests.helpers import A_STAGE


def errors_of(source: str | bytes) -> list[str]:
    with pytest.raises(ManifestErrors) as raised:
        load_manifest(source)
    return [str(error) for error in raised.value.errors]


def stages(count: int, indent: str = "  ") -> str:
    return "".join(f"{indent}s{n}:\n{indent}  image: alpine\n{indent}  commands: [true]\n" for n in range(count))


TOO_LARGE = ".estafette.yaml:1:1: the manifest is larger than 1048576 bytes (1 MiB), the most a manifest may have"


@pytest.mark.parametrize("as_bytes", [True, False])
def test_it_refuses_a_manifest_over_1_mib_before_parsing_it(as_bytes: bool) -> None:
    # given a valid manifest padded one byte past the limit with a comment (which YAML would happily skip)
    text = A_STAGE + "#" * (MAX_MANIFEST_BYTES - len(A_STAGE))
    assert len(text) == MAX_MANIFEST_BYTES

    # when it is loaded, exactly at the limit and one byte past it
    load_manifest(text.encode() if as_bytes else text)
    errors = errors_of((text + "#").encode() if as_bytes else text + "#")

    # then only the larger one is refused, with nothing else said about it
    assert errors == [TOO_LARGE]


def test_it_counts_the_limit_in_utf8_bytes_for_text_too() -> None:
    # given text of fewer characters than the limit whose UTF-8 is larger (é is two bytes)
    text = A_STAGE + "#" + "é" * (MAX_MANIFEST_BYTES // 2)

    # when / then
    assert len(text) < MAX_MANIFEST_BYTES
    assert errors_of(text) == [TOO_LARGE]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"stages:\n  build:\n    image: golang\n    commands:\n    - echo caf\xe9\n",
            ".estafette.yaml:5:15: the manifest is not valid UTF-8: byte 0xe9 at byte offset 63 "
            "(invalid continuation byte); save the file as UTF-8",
        ),
        (
            # a column counts characters: "ü" before the bad byte is one column, two bytes
            b"stages:\n  b\xc3\xbcild:\n    image: \xff\n",
            ".estafette.yaml:3:12: the manifest is not valid UTF-8: byte 0xff at byte offset 29 "
            "(invalid start byte); save the file as UTF-8",
        ),
        (
            b"stages: {}\n# cut short \xe2\x82",
            ".estafette.yaml:2:13: the manifest is not valid UTF-8: byte 0xe2 at byte offset 23 "
            "(unexpected end of data); save the file as UTF-8",
        ),
    ],
)
def test_it_refuses_bytes_that_are_not_utf8_saying_where(data: bytes, expected: str) -> None:
    # given a manifest's bytes with an undecodable sequence
    # when it is loaded
    # then that is the error, at the first bad byte, and nothing is replaced or read further
    assert errors_of(data) == [expected]


def test_it_reads_utf8_bytes_as_the_same_text() -> None:
    # given a manifest with non-ASCII text, as bytes
    text = A_STAGE + "    commands:\n    - echo 'Zweite Änderung ✓'\n"

    # when it is loaded from its bytes
    # then the command is exactly the text the bytes encode
    assert load_manifest(text.encode()).stages[0].commands == ("echo 'Zweite Änderung ✓'",)
    assert decode_manifest(text.encode()) == text


def test_it_refuses_aliases_that_expand_a_small_text_into_gigabytes() -> None:
    # given a 100 KB string repeated through 5,000 aliases: 500 MB once expanded, in a 115 KB manifest
    long = "x" * 100_000
    text = f"stages:\n  s:\n    image: x\n    long: &a {long}\n    commands: [{', '.join(['*a'] * 5000)}]\n"

    # when it is loaded
    # then it is refused before anything walks the aliases
    assert errors_of(text) == [
        f".estafette.yaml:1:1: the manifest expands to more than {MAX_EXPANDED_TEXT} characters (through aliases?)"
    ]


def test_it_still_lets_anchors_share_blocks() -> None:
    # given an env block shared by 200 stages through an anchor and merge keys
    shared = "    env: &env {" + ", ".join(f"K{n}: value-{n}" for n in range(50)) + "}\n"
    text = "stages:\n  s0:\n    image: alpine\n" + shared
    text += "".join(f"  s{n}:\n    image: alpine\n    env: *env\n" for n in range(1, 200))

    # when it is loaded
    manifest = load_manifest(text)

    # then every stage has the shared block
    assert all(len(stage.env) == 50 for stage in manifest.stages)


@pytest.mark.parametrize(
    ("section", "count", "run", "position"),
    [
        ("stages:\n" + stages(2000), 2000, "the build", "2:3"),
        (A_STAGE + "releases:\n  production:\n    stages:\n" + stages(501, "      "), 501, "release production", "7:7"),
        (A_STAGE + "bots:\n  triage:\n    stages:\n" + stages(600, "      "), 600, "bot triage", "7:7"),
    ],
)
def test_it_refuses_a_run_with_more_stages_than_a_job_should_execute(
    section: str, count: int, run: str, position: str
) -> None:
    # given a build, a release or a bot with more stages than the limit
    # when it is loaded
    # then that one error is reported, at the run's stages
    assert errors_of(section) == [
        f".estafette.yaml:{position}: {run} has {count} stages, parallel stages and services; "
        f"at most {MAX_STAGES_PER_RUN} are allowed"
    ]


def test_parallel_stages_and_services_count_towards_the_limit() -> None:
    # given 100 stages, each with 4 parallel stages of one service each: 100 + 400 + 400
    parallel = "{" + ", ".join(f"p{n}: {{image: x, services: [{{name: db{n}, image: y}}]}}" for n in range(4)) + "}"
    text = "stages:\n" + "".join(f"  s{n}:\n    parallelStages: {parallel}\n" for n in range(100))

    # when / then
    assert errors_of(text) == [
        f".estafette.yaml:2:3: the build has 900 stages, parallel stages and services; "
        f"at most {MAX_STAGES_PER_RUN} are allowed"
    ]
    assert len(load_manifest("stages:\n" + stages(MAX_STAGES_PER_RUN)).stages) == MAX_STAGES_PER_RUN


def test_a_build_records_the_exact_text_or_nothing() -> None:
    # given manifests that cannot be recorded as they are, and one that can
    # when / then: never an approximation (a rebuild would run it)
    assert storable_text(b"stages: caf\xe9\n") == ""
    assert storable_text(b"a: \x00\n") == ""
    assert storable_text(b"#" * (MAX_MANIFEST_BYTES + 1)) == ""
    assert storable_text("stages: {}\n") == storable_text(b"stages: {}\n") == "stages: {}\n"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_validate_reports_the_limits_as_manifest_errors(tmp_path: Path) -> None:
    # given a 10 MB manifest, one that is not UTF-8, and one with 2,000 stages
    large = tmp_path / "large.yaml"
    large.write_bytes(b"stages:\n" + b"  s: {image: x, commands: [true]}\n#" + b"x" * 10_000_000)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"stages:\n  build:\n    image: caf\xe9\n")
    many = tmp_path / "many.yaml"
    many.write_text("stages:\n" + stages(2000))

    # when they are validated
    status, out, err = run_cli("validate", str(large), str(latin1), str(many))

    # then each is invalid with its error as FILE:LINE:COL: MESSAGE (not a usage error)
    assert status == 1, err
    assert out.splitlines() == [
        f"{large}:1:1: the manifest is larger than 1048576 bytes (1 MiB), the most a manifest may have",
        f"{latin1}:3:15: the manifest is not valid UTF-8: byte 0xe9 at byte offset 31 (invalid continuation byte); "
        "save the file as UTF-8",
        f"{many}:2:3: the build has 2000 stages, parallel stages and services; at most 500 are allowed",
    ]
    assert "3 manifest(s) checked, 3 invalid" in err
