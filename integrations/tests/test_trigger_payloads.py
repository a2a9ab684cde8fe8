"""The bounds on what a forge's events carry (``integrations.hosted``): a trigger event's raw body and the pushed
commits' texts, so that every event fits NATS's max_payload and a job's environment."""

from __future__ import annotations

import json

from integrations.hosted import MAX_COMMIT_MESSAGE_CHARS, MAX_TRIGGER_PAYLOAD_BYTES, recorded_commit, trigger_payload


def test_a_body_within_the_bound_is_carried_byte_for_byte() -> None:
    body = b'{"ref": "refs/heads/main",  "zen": "' + b"z" * (MAX_TRIGGER_PAYLOAD_BYTES - 100) + b'"}'
    assert len(body) <= MAX_TRIGGER_PAYLOAD_BYTES

    assert trigger_payload(body, json.loads(body)) == body.decode()


def test_a_larger_body_becomes_a_marked_summary_of_its_plain_fields() -> None:
    payload = {
        "ref": "refs/heads/main",
        "after": "a" * 40,
        "repository": {"full_name": "o/r", "owner": {"login": "o"}, "description": "d" * 1000},
        "commits": [{"id": "a" * 40, "added": ["f"] * 100_000}],
    }
    body = json.dumps(payload).encode()

    summary = json.loads(trigger_payload(body, payload))

    assert summary == {
        "truncated": True,
        "bytes": len(body),
        "ref": "refs/heads/main",
        "after": "a" * 40,
        "repository": {"full_name": "o/r", "description": "d" * 256},
    }


def test_a_summary_that_would_itself_be_too_large_keeps_only_the_marker() -> None:
    payload = {f"field_{index}": "v" * 200 for index in range(2000)}
    body = json.dumps(payload).encode()

    assert json.loads(trigger_payload(body, payload)) == {"truncated": True, "bytes": len(body)}


def test_a_pushed_commits_texts_are_cut_to_their_bound() -> None:
    commit = recorded_commit(message="m" * 10**6, email="e" * 1000, name="n", username=None)

    assert commit == {
        "message": "m" * MAX_COMMIT_MESSAGE_CHARS,
        "author": {"email": "e" * 256, "name": "n", "username": ""},
    }
