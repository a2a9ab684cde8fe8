"""The server configuration file and the generated secret decryption key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from estafette.lib.env import env_secret_or_generated
from estafette.lib.server_config import DEFAULT_TRUSTED_IMAGES, read_server_config
from estafette.lib.server_config_schema import server_config_schema

SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "server-config.schema.json"

CONFIG = """\
manifestPreferences:
  defaultBranch: main
credentials:
- name: registry
  type: container-registry
  allowedPipelines: github.com/acme/.+
  repository: acme
  password: estafette.secret(abc)
trustedImages:
- path: extensions/docker
  runDocker: true
  injectedCredentialTypes: [container-registry]
- path: acme/deployer
  injectedCredentialTypes: [kubernetes-engine]
"""


def test_it_reads_credentials_trusted_images_and_preferences(tmp_path: Path) -> None:
    # given
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)

    # when
    config = read_server_config(str(path))

    # then
    assert config.manifest_preferences == {"defaultBranch": "main"}
    assert config.credentials == [
        {
            "name": "registry",
            "type": "container-registry",
            "allowedPipelines": "github.com/acme/.+",
            "repository": "acme",
            "password": "estafette.secret(abc)",
        }
    ]
    paths = [image["path"] for image in config.trusted_images]
    assert paths.count("extensions/docker") == 1  # the configured entry replaces the default one
    assert paths[-2:] == ["extensions/docker", "acme/deployer"]
    assert "extensions/git-clone" in paths
    assert "password" not in repr(config)


def test_without_a_file_it_has_estafettes_default_trusted_images() -> None:
    config = read_server_config("")
    assert [image["path"] for image in config.trusted_images] == [image["path"] for image in DEFAULT_TRUSTED_IMAGES]
    assert config.credentials == []


def test_without_a_file_the_insights_are_the_schemas_defaults(tmp_path: Path) -> None:
    # the defaults are written out (no pydantic at start-up): they must stay the documented ones
    without = read_server_config("").insights
    empty = tmp_path / "config.yaml"
    empty.write_text("insights: {}\n")
    assert without == read_server_config(str(empty)).insights


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("credentials: [{type: x}]", r"credentials\[0\]: name is required"),
        ("credentials: [{name: a, type: x, allowedPipelines: '(oops'}]", r"credentials\[0\]: allowedPipelines is not"),
        ("credentials: [{name: a, type: x}, {name: a, type: y}]", "credential names must be unique, repeated: a"),
        ("trustedImages: [{path: a, runDocker: yes please}]", r"trustedImages\[0\]: runDocker must be true or false"),
        ("trustedImages: [{path: a, colour: red}]", r"trustedImages\[0\]: unknown key colour"),
        ("manifestPreferences: {defaultBranch: ''}", "defaultBranch must be a branch name"),
        ("credential: []", "unknown key credential"),
        ("[1, 2]", "the file must be a mapping"),
        ("credentials: [{name: a, type: x, allowedBranches: '(?!main).*'}]", r"allowedBranches is not a valid"),
        ("manifestPreferences: {labelRegexes: {team: '(a)\\1'}}", r"labelRegexes: team is not a valid .*\(RE2\)"),
        ("trustedImages: [{path: a, injectedCredentialTypes: [x, 3]}]", r"injectedCredentialTypes\[1\] must be text"),
        ("manifestPreferences: {builderOperatingSystems: []}", "builderOperatingSystems must be a non-empty list"),
        ("credentials: {name: a}", "credentials must be a list"),
        ("a: [", "is not valid YAML"),
    ],
)
def test_it_stops_start_up_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ImproperlyConfigured, match=message):
        read_server_config(str(path))


def test_the_documented_schema_is_the_one_start_up_checks() -> None:
    # given the JSON Schema in docs/ and the model the file is validated with
    # then they agree (regenerate: python -m estafette.lib.server_config_schema > docs/server-config.schema.json)
    assert json.loads(SCHEMA.read_text()) == server_config_schema()


def test_it_names_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"ESTAFETTE_CONFIG_FILE .*missing\.yaml cannot be read"):
        read_server_config(str(tmp_path / "missing.yaml"))


def test_a_generated_key_is_made_once_kept_private_and_reused(tmp_path: Path) -> None:
    # given no configured key
    file = tmp_path / "data" / "secret-decryption-key"
    made = iter(["first", "second"])

    # when it is asked for twice
    first = env_secret_or_generated("ESTAFETTE_K", file=file, generate=lambda: next(made), environ={})
    second = env_secret_or_generated("ESTAFETTE_K", file=file, generate=lambda: next(made), environ={})

    # then the first one is kept, readable only by its owner
    assert first == second == "first"
    assert oct(os.stat(file).st_mode & 0o777) == "0o600"
    assert list(file.parent.iterdir()) == [file]
    configured = env_secret_or_generated("ESTAFETTE_K", file=file, generate=lambda: "x", environ={"ESTAFETTE_K": "k"})
    assert configured == "k"
