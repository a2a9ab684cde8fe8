from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from estafette.lib.dburl import database_from_url


def test_it_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    config = database_from_url("", data_dir=tmp_path)
    assert config["ENGINE"] == "estafette.lib.sqlite_backend"
    assert config["NAME"] == str(tmp_path / "estafette.db")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_it_reads_postgres_urls(tmp_path: Path) -> None:
    config = database_from_url("postgresql://ci:s%40cret@db.example:5433/estafette?sslmode=require", data_dir=tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"]) == (
        "ci",
        "s@cret",
        "db.example",
        "5433",
    )
    assert config["OPTIONS"]["sslmode"] == "require"
    assert config["OPTIONS"]["isolation_level"] == 3


def test_it_selects_django_cockroachdb(tmp_path: Path) -> None:
    assert (
        database_from_url("cockroachdb://root@crdb:26257/defaultdb", data_dir=tmp_path)["ENGINE"]
        == "django_cockroachdb"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x@y/z", "must start with sqlite://"),
        ("postgresql://x@y:5432/", "must name a database"),
        ("postgresql://x@y:notaport/db", "invalid port"),
        ("sqlite://", "needs a file path"),
    ],
)
def test_it_names_the_variable_in_errors(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="ESTAFETTE_DATABASE_URL") as error:
        database_from_url(url, data_dir=tmp_path)
    assert message in str(error.value)


@pytest.mark.parametrize("scheme", ["cockroachdb", "cockroach"])
def test_it_reads_both_spellings_of_cockroachdb_as_serializable(tmp_path: Path, scheme: str) -> None:
    config = database_from_url(f"{scheme}://root@crdb:26257/defaultdb?sslmode=disable", data_dir=tmp_path)
    assert (config["ENGINE"], config["HOST"], config["PORT"], config["NAME"]) == (
        "django_cockroachdb",
        "crdb",
        "26257",
        "defaultdb",
    )
    assert config["OPTIONS"] == {"sslmode": "disable", "isolation_level": 3}


def test_it_reads_relative_and_absolute_sqlite_paths_with_our_engine(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = database_from_url("sqlite:///var/ci.db", data_dir=tmp_path / "data")
    absolute = database_from_url(f"sqlite:///{tmp_path}/abs.db", data_dir=tmp_path / "data")
    assert (relative["ENGINE"], relative["NAME"]) == ("estafette.lib.sqlite_backend", str(tmp_path / "var" / "ci.db"))
    assert absolute["NAME"] == str(tmp_path / "abs.db")
    assert absolute["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.parametrize("url", ["sqlite://:memory:", "sqlite:///", "oracle://x@y/z"])
def test_it_refuses_what_a_server_cannot_run_on(tmp_path: Path, url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="ESTAFETTE_DATABASE_URL"):
        database_from_url(url, data_dir=tmp_path)
