"""One rule turns a snake_case Python name into Estafette's camelCase JSON name."""

from __future__ import annotations

import pytest

from builder.manifest.jsonnames import camel_case


@pytest.mark.parametrize(
    ("name", "json"),
    [
        ("status", "status"),
        ("repo_source", "repoSource"),
        ("median_pending_duration", "medianPendingDuration"),
        ("build_id", "buildID"),
        ("user_id", "userID"),
        ("id", "id"),
        ("id_token", "idToken"),
        ("pipeline_id_list", "pipelineIDList"),
        ("identity_provider", "identityProvider"),
        ("base_url", "baseUrl"),
        ("hook_uuid", "hookUuid"),
    ],
)
def test_each_further_word_is_capitalised_and_an_id_is_written_ID(name: str, json: str) -> None:
    assert camel_case(name) == json
