"""``integrations.slack`` and ``integrations.cloudsource`` in the server configuration file, and the variable
``ESTAFETTE_SLACK_CHANNELS``: read as written, checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from estafette.lib.server_config import check_slack_channels, read_server_config

CONFIG = """\
integrations:
  slack:
    signingSecret: s3cret
    botToken: xoxb-1
    channels:
    - {pipelines: "github.com/acme/.+", channel: "#acme"}
  cloudsource:
    audience: https://ci.example.com/api/integrations/cloudsource/events
    serviceAccountEmail: push@project.iam.gserviceaccount.com
"""


def test_it_reads_slacks_and_cloud_sources_settings(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)

    config = read_server_config(str(path))

    assert config.integration("slack") == {
        "signingSecret": "s3cret",
        "botToken": "xoxb-1",
        "channels": [{"pipelines": "github.com/acme/.+", "channel": "#acme"}],
    }
    assert config.integration("cloudsource") == {
        "audience": "https://ci.example.com/api/integrations/cloudsource/events",
        "serviceAccountEmail": "push@project.iam.gserviceaccount.com",
    }
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("integrations: {slack: {channels: [{pipelines: '(', channel: '#x'}]}}", "not a valid regular expression"),
        ("integrations: {slack: {channels: [{pipelines: '.*'}]}}", "channel is required"),
        ("integrations: {slack: {channel: '#x'}}", "unknown"),
        ("integrations: {cloudsource: {audience: [x]}}", "integrations.cloudsource: audience must be text"),
    ],
)
def test_it_stops_start_up_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)

    with pytest.raises(ImproperlyConfigured, match=message):
        read_server_config(str(path))


def test_the_channels_variable_is_checked_as_the_file_is() -> None:
    assert check_slack_channels([{"pipelines": ".*", "channel": "#ci"}], where="V") == [
        {"pipelines": ".*", "channel": "#ci"}
    ]
    with pytest.raises(ImproperlyConfigured, match="V must be a list"):
        check_slack_channels({"pipelines": ".*"}, where="V")
    with pytest.raises(ImproperlyConfigured, match="channel is required"):
        check_slack_channels([{"pipelines": ".*"}], where="V")
