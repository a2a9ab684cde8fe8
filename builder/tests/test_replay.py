"""The pure parts of ``python -m builder replay``: the build URL, the secrets and the checkout check. The replay of a
build of the running system is in tests/integration/test_replay_system.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from builder.replay import (
    ReplayError,
    check_checkout,
    load_secrets_file,
    parse_build_url,
    resolve_secrets,
    secret_uses,
    substitute,
)

ENVELOPE = "estafette.secret(abc.def)"
OTHER = "estafette.secret(xyz.uvw)"


@pytest.mark.parametrize(
    "url",
    [
        "https://ci.example.com/pipelines/github.com/acme/api/builds/42",
        "https://ci.example.com/pipelines/github.com/acme/api/builds/42/logs",
        "https://ci.example.com/api/pipelines/github.com/acme/api/builds/42?x=1",
    ],
)
def test_a_build_url_of_the_web_ui_or_the_api_names_the_replay_route(url: str) -> None:
    assert parse_build_url(url).replay_api == (
        "https://ci.example.com/api/pipelines/github.com/acme/api/builds/42/replay"
    )


def test_a_server_under_a_path_keeps_its_path() -> None:
    build = parse_build_url("http://127.0.0.1:8000/ci/pipelines/local/acme/app/builds/7")
    assert build.base == "http://127.0.0.1:8000/ci" and build.build_id == "7"


@pytest.mark.parametrize("url", ["ci.example.com/pipelines/a/b/c/builds/1", "https://ci.example.com/pipelines/a/b"])
def test_anything_else_is_refused_with_an_example(url: str) -> None:
    with pytest.raises(ReplayError, match=r"is not a build's URL.*builds/42"):
        parse_build_url(url)


def test_secrets_come_from_the_file_by_envelope_then_by_name_and_are_substituted() -> None:
    config = {"manifest": {"env": {"API_TOKEN": ENVELOPE, "URL": f"https://u:{OTHER}@host"}}}
    uses = secret_uses(config)

    values = resolve_secrets(uses, given={OTHER: "pw", "API_TOKEN": "tok"}, prompt=None)

    assert substitute(config, values) == {"manifest": {"env": {"API_TOKEN": "tok", "URL": "https://u:pw@host"}}}


def test_a_missing_secret_is_asked_for_on_a_terminal_and_refused_without_one() -> None:
    uses = secret_uses({"stages": [{"env": {"DB_PASSWORD": ENVELOPE}}]})
    asked: list[str] = []

    values = resolve_secrets(uses, given={}, prompt=lambda text: asked.append(text) or "typed")

    assert values == {ENVELOPE: "typed"} and "DB_PASSWORD" in asked[0]
    with pytest.raises(ReplayError, match=r"DB_PASSWORD.*--secrets-file"):
        resolve_secrets(uses, given={}, prompt=None)


def test_a_secrets_file_must_be_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("API_TOKEN: tok\nCOUNT: 3\n")
    (tmp_path / "list.json").write_text('["tok"]')

    assert load_secrets_file(tmp_path / "ok.yaml") == {"API_TOKEN": "tok", "COUNT": "3"}
    with pytest.raises(ReplayError, match="mapping"):
        load_secrets_file(tmp_path / "list.json")
    with pytest.raises(ReplayError, match="cannot read"):
        load_secrets_file(tmp_path / "none.yaml")


def git(directory: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True).stdout.strip()


def test_a_checkout_must_reach_the_revision(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "one")
    first = git(tmp_path, "rev-parse", "HEAD")
    git(tmp_path, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "two")
    second = git(tmp_path, "rev-parse", "HEAD")

    assert check_checkout(tmp_path, first) == tmp_path.resolve()
    git(tmp_path, "checkout", "-q", first)
    with pytest.raises(ReplayError, match=rf"does not reach revision {second}.*git checkout"):
        check_checkout(tmp_path, second)
    with pytest.raises(ReplayError, match="is not in"):
        check_checkout(tmp_path, "f" * 40)
