import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from estafette.lib.env import env_bool, env_int, env_secret, env_secret_or_generated


def test_it_reads_booleans_strictly() -> None:
    assert env_bool("ESTAFETTE_X", False, environ={"ESTAFETTE_X": "TRUE"}) is True
    assert env_bool("ESTAFETTE_X", True, environ={}) is True
    with pytest.raises(ImproperlyConfigured, match="ESTAFETTE_X must be 'true' or 'false', got 'yes'"):
        env_bool("ESTAFETTE_X", False, environ={"ESTAFETTE_X": "yes"})


def test_it_names_the_variable_for_a_bad_number() -> None:
    with pytest.raises(ImproperlyConfigured, match="ESTAFETTE_HTTP_PORT must be a whole number"):
        env_int("ESTAFETTE_HTTP_PORT", 8000, environ={"ESTAFETTE_HTTP_PORT": "80a"})
    with pytest.raises(ImproperlyConfigured, match="at most 65535"):
        env_int("ESTAFETTE_HTTP_PORT", 8000, maximum=65535, environ={"ESTAFETTE_HTTP_PORT": "70000"})


def test_it_reads_secrets_from_files(tmp_path) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    assert env_secret("ESTAFETTE_K", environ={"ESTAFETTE_K_FILE": str(secret)}) == "s3cret"
    with pytest.raises(ImproperlyConfigured, match="ESTAFETTE_K_FILE"):
        env_secret("ESTAFETTE_K", environ={"ESTAFETTE_K_FILE": str(tmp_path / "missing")})


def test_it_reads_json_documents() -> None:
    from estafette.lib.env import env_json

    assert env_json("ESTAFETTE_J", [], environ={"ESTAFETTE_J": '[{"key": "a"}]'}) == [{"key": "a"}]
    assert env_json("ESTAFETTE_J", {"x": 1}, environ={}) == {"x": 1}
    with pytest.raises(ImproperlyConfigured, match="ESTAFETTE_J must be a JSON document"):
        env_json("ESTAFETTE_J", {}, environ={"ESTAFETTE_J": "{nope"})


def test_it_reads_colon_separated_absolute_paths() -> None:
    from pathlib import Path

    from estafette.lib.env import env_paths

    assert env_paths("ESTAFETTE_P", environ={}) == ()
    assert env_paths("ESTAFETTE_P", environ={"ESTAFETTE_P": "/srv/git::/home/ci/repos:"}) == (
        Path("/srv/git"),
        Path("/home/ci/repos"),
    )
    with pytest.raises(ImproperlyConfigured, match="ESTAFETTE_P takes absolute paths separated by ':', got repos"):
        env_paths("ESTAFETTE_P", environ={"ESTAFETTE_P": "/srv/git:repos"})


def test_it_generates_a_missing_secret_once_and_keeps_it_private(tmp_path) -> None:
    key_file = tmp_path / "data" / "secret-key"
    first = env_secret_or_generated("ESTAFETTE_K", file=key_file, generate=lambda: "generated", environ={})
    again = env_secret_or_generated("ESTAFETTE_K", file=key_file, generate=lambda: "another", environ={})
    assert (first, again) == ("generated", "generated")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert env_secret_or_generated("ESTAFETTE_K", file=key_file, generate=str, environ={"ESTAFETTE_K": "set"}) == "set"


def test_processes_generating_a_secret_at_the_same_moment_all_use_the_one_stored_first(tmp_path) -> None:
    # given a process that generates its key while another one (starting at the same moment) stores its own
    key_file = tmp_path / "secret-key"

    def generate_while_another_process_stores_its_key() -> str:
        assert env_secret_or_generated("ESTAFETTE_K", file=key_file, generate=lambda: "other", environ={}) == "other"
        return "mine"

    # when it goes on to store its key
    mine = env_secret_or_generated(
        "ESTAFETTE_K", file=key_file, generate=generate_while_another_process_stores_its_key, environ={}
    )

    # then it uses the other process's key, the one on disk
    assert mine == "other"
    assert key_file.read_text() == "other"
    assert [path.name for path in tmp_path.iterdir()] == ["secret-key"]
