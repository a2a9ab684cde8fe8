import pytest
from django.core.exceptions import ImproperlyConfigured

from estafette.lib.env import env_bool, env_int, env_secret


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
