"""The wire types and the trigger events keep the JSON names they had before they shared one camelCase rule.

Until issue 11 each side had its own converter; those rules are kept here, as the reference the shared rule
(``builder.manifest.jsonnames.camel_case``) must reproduce for every field in use. The API's serializers, whose rule
became the shared one, are checked the same way in ``estafette/lib/tests/test_json_names.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from builder import contracts
from builder.manifest import events


def contracts_rule_before(name: str) -> str:
    """``builder/contracts.py``'s ``_camel``: the case of each further word's tail was kept; no ``ID``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def events_rule_before(name: str) -> str:
    """``builder/manifest/events.py``'s ``_camel``: ``str.capitalize`` on each further word; no ``ID``."""
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


# The names the events declared by hand before, which the rule did not give.
EVENTS_NAMED_BEFORE = {
    ("PipelineEvent", "branch"): "repoBranch",
    ("BitbucketEvent", "hook_uuid"): "hookUUID",
    ("BitbucketEvent", "request_uuid"): "requestUUID",
    ("ManualEvent", "user_id"): "userID",
}


# Fields added after the rules became one: they take the shared rule's name (``…ID``, as Estafette spells ids).
WIRE_ADDED_SINCE = {("BuilderConfig", "request_id"): "requestID"}


def wire_types() -> Iterator[type[contracts.Wire]]:
    for value in vars(contracts).values():
        if isinstance(value, type) and issubclass(value, contracts.Wire) and value is not contracts.Wire:
            yield value


def event_parts() -> Iterator[type]:
    for value in vars(events).values():
        if isinstance(value, type) and issubclass(value, events._JsonParts) and value is not events._JsonParts:
            yield value


def test_every_wire_field_keeps_its_json_name() -> None:
    # given every field of every wire type
    checked = 0
    for wire_type in wire_types():
        for spec in wire_type._field_specs():
            # then its JSON key is the one the contracts' own rule gave
            before = WIRE_ADDED_SINCE.get((wire_type.__name__, spec.name)) or contracts_rule_before(spec.name)
            assert spec.key == before, f"{wire_type.__name__}.{spec.name}"
            checked += 1

    assert checked > 60  # the sweep found the types (BuilderConfig, LogBatch, StatusEvent, TailLogLine…)


def test_every_event_field_keeps_its_json_name() -> None:
    # given every field of every flat event part
    checked = 0
    for part in event_parts():
        for item in dataclasses.fields(part):
            before = EVENTS_NAMED_BEFORE.get((part.__name__, item.name)) or events_rule_before(item.name)
            # then its JSON key is the one it had
            assert part._json_name(item.name) == before, f"{part.__name__}.{item.name}"
            checked += 1

    assert checked > 20
    assert {part.__name__ for part in event_parts()} >= {"PipelineEvent", "BitbucketEvent", "ManualEvent"}


def test_the_json_a_wire_type_writes_is_unchanged() -> None:
    # given a builder configuration that fills the fields with two-word names
    config = contracts.CiServerConfig(base_url="b", status_url="s", logs_url="l", job_token="t")

    # then its JSON is byte for byte the one Estafette reads
    assert config.to_dict() == {"baseUrl": "b", "statusUrl": "s", "logsUrl": "l", "jobToken": "t"}
