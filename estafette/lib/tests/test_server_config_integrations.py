"""``integrations`` in the server configuration file: each integration's settings, checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from estafette.lib.server_config import read_server_config

GITHUB = """\
integrations:
  github:
    appId: 12345
    privateKeyFile: /secrets/github-app.pem
    webhookSecret: s3cret
    apiUrl: https://ghe.acme.example/api/v3
"""


def test_it_reads_the_github_apps_settings(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GITHUB)

    config = read_server_config(str(path))

    assert config.integration("github") == {
        "appId": "12345",
        "privateKeyFile": "/secrets/github-app.pem",
        "webhookSecret": "s3cret",
        "apiUrl": "https://ghe.acme.example/api/v3",
    }
    assert config.integration("bitbucket") == {}
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("integrations: [github]", "integrations must be a mapping"),
        ("integrations: {gitlab: {}}", "unknown"),
        ("integrations: {github: {appID: 1}}", "unknown"),
        ("integrations: {github: {apiUrl: [x]}}", "integrations.github: apiUrl must be text"),
        ("integrations: {github: {webhookSecret: true}}", "integrations.github: webhookSecret must be text"),
    ],
)
def test_it_stops_start_up_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)

    with pytest.raises(ImproperlyConfigured, match=message):
        read_server_config(str(path))
