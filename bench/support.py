"""What several benchmarks share: the database they run on."""

from __future__ import annotations

import os
from typing import Any


def use_database(*, database_url: str | None, postgres: bool, default_url: str | None) -> Any:
    """Point ``ESTAFETTE_DATABASE_URL`` (read when Django loads its settings) at the benchmark's database.

    ``database_url`` wins; else ``postgres`` starts a throw-away PostgreSQL server with a ``bench`` database;
    else ``default_url`` (``None``: the settings' own default). Returns the server to stop afterwards, if one
    was started.
    """
    if database_url:
        os.environ["ESTAFETTE_DATABASE_URL"] = database_url
        return None
    if postgres:
        from tests.tooling.postgres import PostgresServer

        server = PostgresServer().start()
        server.psql("CREATE DATABASE bench")
        os.environ["ESTAFETTE_DATABASE_URL"] = server.url("bench")
        return server
    if default_url is None:
        os.environ.pop("ESTAFETTE_DATABASE_URL", None)
    else:
        os.environ["ESTAFETTE_DATABASE_URL"] = default_url
    return None
