"""The builder ↔ API contract against the fake API (the Django endpoints run the same class)."""

from collections.abc import Iterator

import pytest

from builder.testing import FakeApi
from builder.tests.api_contract import BuilderApiContract


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi() as fake:
        yield fake


class TestFakeApiContract(BuilderApiContract):
    pass
