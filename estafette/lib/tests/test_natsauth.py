import stat
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from estafette.lib.natsauth import nats_connection_from_env, split_credentials


def test_it_splits_credentials_off_a_url_and_decodes_them() -> None:
    assert split_credentials("nats://ann:p%40ss%3Aword@nats.example:4222") == (
        "nats://nats.example:4222",
        "ann",
        "p@ss:word",
    )
    assert split_credentials("tls://ann:x@[::1]:4222/path?q=1") == ("tls://[::1]:4222/path?q=1", "ann", "x")
    assert split_credentials("nats://nats.example:4222") == ("nats://nats.example:4222", "", "")
    assert split_credentials("ann:x@127.0.0.1:4222") == ("127.0.0.1:4222", "ann", "x")


def test_the_local_server_gets_a_generated_password_kept_private_in_the_data_dir(tmp_path: Path) -> None:
    # when
    first = nats_connection_from_env(data_dir=tmp_path, port=4333, environ={})
    again = nats_connection_from_env(data_dir=tmp_path, port=4333, environ={})

    # then
    assert (first.url, first.external, first.user) == ("nats://127.0.0.1:4333", False, "estafette")
    assert len(first.password) >= 40 and again.password == first.password
    password_file = tmp_path / "nats-password"
    assert password_file.read_text() == first.password
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert first.password not in repr(first)


def test_the_local_server_takes_a_configured_user_and_password(tmp_path: Path) -> None:
    secret = tmp_path / "mounted"
    secret.write_text("from-a-secret\n")
    environ = {"ESTAFETTE_NATS_USER": "ci", "ESTAFETTE_NATS_PASSWORD_FILE": str(secret)}

    connection = nats_connection_from_env(data_dir=tmp_path, port=4222, environ=environ)

    assert (connection.user, connection.password) == ("ci", "from-a-secret")
    assert not (tmp_path / "nats-password").exists()


def test_it_refuses_a_local_password_bcrypt_would_cut_short(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="longer than 72 bytes") as refused:
        nats_connection_from_env(data_dir=tmp_path, port=4222, environ={"ESTAFETTE_NATS_PASSWORD": "é" * 40})
    assert "é" not in str(refused.value)


def test_an_external_server_takes_credentials_from_the_url_or_the_variables(tmp_path: Path) -> None:
    from_url = nats_connection_from_env(
        data_dir=tmp_path, port=4222, environ={"ESTAFETTE_NATS_URL": "nats://ci:s3cret@nats:4222"}
    )
    from_variables = nats_connection_from_env(
        data_dir=tmp_path,
        port=4222,
        environ={
            "ESTAFETTE_NATS_URL": "nats://nats:4222",
            "ESTAFETTE_NATS_USER": "ci",
            "ESTAFETTE_NATS_PASSWORD": "s3cret",
        },
    )

    for connection in (from_url, from_variables):
        assert (connection.url, connection.external, connection.user, connection.password) == (
            "nats://nats:4222",
            True,
            "ci",
            "s3cret",
        )
        assert "s3cret" not in repr(connection)
    assert not (tmp_path / "nats-password").exists()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ESTAFETTE_NATS_URL": "nats://nats:4222"}, "no credentials for it"),
        ({"ESTAFETTE_NATS_URL": "nats://nats:4222", "ESTAFETTE_NATS_USER": "ci"}, "no credentials for it"),
        ({"ESTAFETTE_NATS_URL": "nats://nats:4222", "ESTAFETTE_NATS_PASSWORD": "s3cret"}, "no credentials for it"),
        ({"ESTAFETTE_NATS_URL": "nats://s3cret@nats:4222"}, "a user without a password"),
        (
            {"ESTAFETTE_NATS_URL": "nats://ci:s3cret@nats:4222", "ESTAFETTE_NATS_PASSWORD": "s3cret"},
            "carries credentials and ESTAFETTE_NATS_USER/ESTAFETTE_NATS_PASSWORD are set too",
        ),
    ],
)
def test_an_external_server_without_clear_credentials_stops_start_up(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message) as refused:
        nats_connection_from_env(data_dir=tmp_path, port=4222, environ=environ)
    assert "s3cret" not in str(refused.value)
