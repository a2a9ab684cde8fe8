"""Hostile regular expressions (issue 18): a manifest author's pattern must not stall the server for everyone.

The attack: a trigger filter such as ``(a+)+$``, which a backtracking engine (Python's ``re``) evaluates in time
exponential in the input — ``'a' * 24 + '!'`` took 0.74 s and every three more characters ten times as long — and
then one push of a branch named ``aaaa…a!``. Every user-supplied pattern now runs on RE2, linear in the input: each
classic catastrophic pattern below, against inputs far longer than any branch the intake accepts, is answered in
milliseconds by every evaluator (trigger filters, release branches and labels, allow-lists, ``when``, secrets), and
the trigger consumer handles such an event in bounded time. The bound asserted is generous (a shared CI machine);
the time measured is in ``bench/regex_patterns.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.manifest.regex import allows, filter_match, full_match
from builder.manifest.when import evaluate_when
from builder.secrets import is_allowed
from builds.models import Build
from estafette.queue.consumer import Verdict
from estafette.queue.testing import deliver
from integrations.git.testing import GitRepository, intake, push  # noqa: F401 - fixture
from integrations.git.webhook import MAX_BRANCH_LENGTH
from runs.testing import job_runner  # noqa: F401 - fixture
from triggers.consumers import MATCH_CONSUMERS
from triggers.testing import settle

# The classic catastrophic-backtracking shapes, each with the input that makes a backtracking engine explode.
HOSTILE = [
    ("(a+)+$", "a" * 100_000 + "!"),
    ("(a|aa)*b", "a" * 100_000),
    ("(a|a)*b", "a" * 100_000),
    ("(.*a){20}", "a" * 100_000 + "!"),
    ("(a*)*b", "a" * 100_000),
    ("^(([a-z])+.)+[A-Z]([a-z])+$", "a" * 100_000 + "!"),
    ("(\\w+\\s?)+$", "word " * 20_000 + "!"),
    ("(x+x+)+y", "x" * 100_000),
]
BOUND_SECONDS = 0.5  # measured: well under 20 ms each; a backtracking engine would not finish at all

EVALUATORS: dict[str, Callable[[str, str], object]] = {
    "trigger filter": filter_match,
    "negated trigger filter": lambda pattern, value: filter_match(f"!~ {pattern}", value),
    "release branch and label": full_match,
    "credential and trusted-image allow-list": allows,
    "secret allow-list": is_allowed,
    "when =~": lambda pattern, value: evaluate_when(f"branch =~ '{pattern}'", {"branch": value}),
}


@pytest.mark.parametrize("evaluator", EVALUATORS, ids=str)
@pytest.mark.parametrize(("pattern", "value"), HOSTILE, ids=[pattern for pattern, _ in HOSTILE])
def test_a_catastrophic_pattern_is_answered_in_linear_time(evaluator: str, pattern: str, value: str) -> None:
    # given a pattern that backtracks exponentially and an input of 100,000 characters
    evaluate = EVALUATORS[evaluator]
    evaluate(pattern, "warm")  # compiling is a one-off per pattern, cached

    # when it is evaluated
    started = time.perf_counter()
    evaluate(pattern, value)
    elapsed = time.perf_counter() - started

    # then it is answered in milliseconds, not after the heat death of the consumer
    assert elapsed < BOUND_SECONDS, f"{evaluator} took {elapsed:.3f}s on {pattern!r}"


HOSTILE_TRIGGERS = ["(a+)+$", "(a|aa)*b", "(.*a){20}"]


@pytest.mark.django_db
@pytest.mark.usefixtures("intake")
def test_a_hostile_trigger_filter_does_not_stall_the_trigger_consumer(tmp_path: Path) -> None:
    # given api, and three pipelines listening to its pushes with catastrophic branch filters (valid RE2: they load)
    api = GitRepository(tmp_path / "acme" / "api")
    api.commit({".estafette.yaml": "stages:\n  build:\n    image: alpine\n"}, "api")
    for number, pattern in enumerate(HOSTILE_TRIGGERS):
        web = GitRepository(tmp_path / "acme" / f"web{number}")
        manifest = (
            f"triggers:\n- git:\n    repository: local/acme/api\n    branch: '{pattern}'\n"
            "stages:\n  build:\n    image: alpine\n"
        )
        web.commit({".estafette.yaml": manifest}, "hostile filter")
        push(web)
    settle()
    builds_before = Build.objects.count()

    # when a push of api on the longest branch the intake accepts, shaped to make them backtrack, is matched
    branch = "a" * (MAX_BRANCH_LENGTH - 1) + "!"
    consumer = MATCH_CONSUMERS["git"]()
    started = time.perf_counter()
    outcome = deliver(consumer, {"event": "push", "repository": str(api.path), "branch": branch}, event_id="hostile")
    elapsed = time.perf_counter() - started

    # then the event is handled in bounded time and nothing fires
    assert outcome.verdict is Verdict.ACK
    assert elapsed < 2.0, f"matching one push took {elapsed:.3f}s"
    settle()
    assert Build.objects.count() == builds_before

    # and the filters are live: the next push, on 20 a's, fires the two of them that match it
    branch = "a" * 20
    outcome = deliver(consumer, {"event": "push", "repository": str(api.path), "branch": branch}, event_id="next")
    assert outcome.verdict is Verdict.ACK
    settle()
    fired = Build.objects.filter(triggered_by_events__0__git__branch=branch)
    assert sorted(build.pipeline.repo_name for build in fired) == ["web0", "web2"]


def test_a_pattern_re2_rejects_is_refused_when_the_manifest_is_loaded() -> None:
    # given a trigger filter with a backreference, which RE2 (and Go) cannot run in linear time
    from builder.manifest import ManifestErrors, load_manifest

    text = (
        "triggers:\n- git:\n    repository: a/b/c\n    branch: '(a+)\\1'\n  builds: {}\nstages:\n  b:\n    image: x\n"
    )

    # when the manifest is loaded, then it is an error at the pattern, not a trigger that runs on another engine
    with pytest.raises(ManifestErrors) as raised:
        load_manifest(text)
    assert [str(error) for error in raised.value.errors] == [
        ".estafette.yaml:4:13: Set git.branch in your trigger to a valid regular expression (RE2): "
        "invalid escape sequence: \\1"
    ]
