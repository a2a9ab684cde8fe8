"""A real PostgreSQL holding Estafette's schema for the import's tests.

The suite's own server when it runs on PostgreSQL (``ESTAFETTE_TEST_DB=postgres``/``cockroach``: the tooling started
one); else one started here for this package's tests. Each test that changes its source gets a database of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from migrate_from_estafette.testing import FakeEstafette

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def source_server() -> Iterator[Any]:
    from tests.tooling import plugin
    from tests.tooling.postgres import PostgresServer

    running = plugin._running.get("postgres")
    if running is not None:
        yield running
        return
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def new_source(server: Any, **sizes: int) -> FakeEstafette:
    name = f"estafette_source_{next(_numbers)}"
    # template0: the suite's template1 carries a unique_rowid() stand-in Estafette's database has no use for.
    server.psql(f"CREATE DATABASE {name} TEMPLATE template0")
    source = FakeEstafette(server.url(name), **sizes)
    source.create_schema()
    source.fill()
    source.fill_directory()
    return source


@pytest.fixture
def small_source(source_server: Any) -> FakeEstafette:
    """A source of its own (tests may change it): 200 builds over 5 pipelines."""
    return new_source(source_server, builds=200)


@pytest.fixture(scope="session")
def large_source(source_server: Any) -> FakeEstafette:
    """Shared by the tests that only read it: 3 000 builds with logs of 10 lines, releases and bot runs."""
    return new_source(source_server, builds=3000)
