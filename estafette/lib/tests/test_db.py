import os

import pytest
from django.db import OperationalError, connection, connections

from estafette.lib.db import is_serialization_failure, retry_on_serialization_failure


class FakeSerializationFailure(OperationalError):
    pgcode = "40001"


@pytest.mark.django_db
def test_it_runs_on_the_backend_the_suite_was_asked_for() -> None:
    expected = {"sqlite": "sqlite", "postgres": "postgresql", "cockroach": "cockroachdb"}
    choice = os.environ.get("ESTAFETTE_TEST_DB", "sqlite")
    assert connection.vendor == expected[choice]
    if choice == "cockroach":
        assert connections["default"].__class__.__module__ == "tests.tooling.cockroach_backend.base"
    if choice != "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            assert cursor.fetchone()[0] == "serializable"


def test_it_retries_a_transaction_that_lost_a_serialization_conflict() -> None:
    attempts: list[int] = []

    @retry_on_serialization_failure
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise FakeSerializationFailure("could not serialize access")
        return "done"

    assert flaky() == "done"
    assert len(attempts) == 3


def test_it_does_not_retry_other_errors() -> None:
    attempts: list[int] = []

    @retry_on_serialization_failure
    def broken() -> None:
        attempts.append(1)
        raise OperationalError("no such table: x")

    with pytest.raises(OperationalError):
        broken()
    assert len(attempts) == 1


def test_it_recognises_sqlite_busy_and_cockroach_restarts() -> None:
    assert is_serialization_failure(OperationalError("database is locked"))
    restart = "restart transaction: TransactionRetryWithProtoRefreshError 40001"
    assert is_serialization_failure(OperationalError(restart))
    assert not is_serialization_failure(OperationalError("syntax error"))


def test_it_gives_up_after_its_attempts_raising_the_conflict_itself() -> None:
    attempts: list[int] = []

    @retry_on_serialization_failure(attempts=3)
    def always_conflicting() -> None:
        attempts.append(1)
        raise FakeSerializationFailure(f"could not serialize access, attempt {len(attempts)}")

    with pytest.raises(FakeSerializationFailure, match="attempt 3"):
        always_conflicting()
    assert len(attempts) == 3


@pytest.mark.django_db
def test_inside_an_open_transaction_it_leaves_the_retry_to_the_outermost_caller() -> None:
    from django.db import transaction

    attempts: list[int] = []

    @retry_on_serialization_failure
    def inner() -> None:
        attempts.append(1)
        raise FakeSerializationFailure("could not serialize access")

    with pytest.raises(FakeSerializationFailure), transaction.atomic():
        inner()
    assert len(attempts) == 1
