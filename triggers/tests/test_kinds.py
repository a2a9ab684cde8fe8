"""The trigger-kind registry: one entry per kind the manifest library knows, driving subjects, consumers, decoding
and the trigger index."""

from __future__ import annotations

import pytest

from builder.manifest.events import Event
from builder.manifest.triggers import FILTER_TYPES
from estafette.queue.consumer import registered_consumers
from triggers.index import event_keys, trigger_keys
from triggers.kinds import UnknownEvent, trigger_kind, trigger_kinds


def test_every_trigger_type_of_the_manifest_library_has_one_entry() -> None:
    assert sorted(kind.name for kind in trigger_kinds()) == sorted(FILTER_TYPES)


def test_each_kind_has_its_subject_and_one_matching_consumer() -> None:
    consumers = registered_consumers()
    for kind in trigger_kinds():
        assert kind.subject == f"estafette.events.{kind.name}"
        assert consumers[kind.durable].subject == kind.subject
        assert consumers[kind.durable].kind is kind  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "payload", "key"),
    [
        ("docker", {"event": "push", "image": "acme/api", "tag": "1.0"}, "docker"),
        ("cron", {"time": "2024-05-01T12:03:00Z"}, "cron"),
        ("github", {"event": "push", "repository": "github.com/Acme/API"}, "github:github.com/acme/api"),
        (
            "pipeline",
            {"pipeline": {"repoSource": "github.com", "repoOwner": "acme", "repoName": "api", "event": "finished"}},
            "pipeline:github.com/acme/api",
        ),
    ],
)
def test_a_payload_becomes_the_event_its_kind_carries_and_finds_its_key(name: str, payload: dict, key: str) -> None:
    event = trigger_kind(name).event_from_payload(payload)
    assert getattr(event, name) is not None
    assert event_keys(event) == [key]


def test_a_push_is_named_by_the_registered_forge() -> None:
    event = trigger_kind("git").event_from_payload({"repository": "https://GitHub.com/Acme/API.git", "branch": "main"})
    assert event.git is not None
    assert (event.git.repository, event.git.branch) == ("github.com/Acme/API", "main")
    assert event_keys(event) == ["git:github.com/acme/api"]
    with pytest.raises(UnknownEvent, match="git push"):
        trigger_kind("git").event_from_payload({"repository": "ext::sh -c boom", "branch": "main"})


@pytest.mark.parametrize(
    ("name", "payload"),
    [("release", {"pipeline": {"repoName": "api"}}), ("cron", {"time": "yesterday"})],
)
def test_a_payload_that_is_not_its_kinds_event_is_refused(name: str, payload: dict) -> None:
    with pytest.raises(UnknownEvent):
        trigger_kind(name).event_from_payload(payload)


def test_triggers_are_filed_under_what_they_listen_to() -> None:
    triggers = [
        {"pipeline": {"name": "github.com/Acme/API", "event": "finished"}},
        {"cron": {"schedule": "0 2 * * *"}},
        {"git": {"repository": "github.com/acme/web", "event": "push"}},
    ]
    assert trigger_keys(triggers) == {"pipeline:github.com/acme/api", "cron", "git:github.com/acme/web"}
    assert event_keys(Event()) == []
