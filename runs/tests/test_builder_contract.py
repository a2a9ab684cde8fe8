"""The builder ↔ API contract (builder/tests/api_contract.py) against the real Django endpoints over real HTTP."""

from collections.abc import Iterator

import pytest

from builder.tests.api_contract import BuilderApiContract
from builds.testing import make_build
from runs.testing import DjangoBuilderApi


@pytest.fixture
def api(live_server, transactional_db) -> Iterator[DjangoBuilderApi]:  # type: ignore[no-untyped-def]
    yield DjangoBuilderApi(base_url=live_server.url, run=make_build())


class TestDjangoBuilderApiContract(BuilderApiContract):
    pass
