"""A write that keeps losing serialization conflicts is answered 503 with Retry-After, never a 500 traceback."""

import logging

import pytest
from django.db import IntegrityError, OperationalError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from estafette.lib.db import retry_on_serialization_failure


class SerializationFailure(OperationalError):
    pgcode = "40001"


class AlwaysConflicting(APIView):
    authentication_classes = ()
    permission_classes = ()
    attempts = 0

    @retry_on_serialization_failure(attempts=3)
    def write(self) -> None:
        type(self).attempts += 1
        raise SerializationFailure("could not serialize access due to read/write dependencies among transactions")

    def post(self, request: Request) -> Response:
        self.write()
        return Response({})


class BrokenWrite(APIView):
    authentication_classes = ()
    permission_classes = ()

    def post(self, request: Request) -> Response:
        raise IntegrityError("duplicate key value violates unique constraint")


def test_a_write_that_loses_every_retry_is_answered_503_with_retry_after(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("estafette.lib.db.time.sleep", lambda seconds: None)
    request = APIRequestFactory().post("/api/anything", {}, format="json")

    with caplog.at_level(logging.WARNING, logger="estafette.lib.api"):
        response = AlwaysConflicting.as_view()(request)

    assert AlwaysConflicting.attempts == 3
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.data["code"] == "Service Unavailable"
    assert "send the request again" in response.data["message"]
    assert "read/write dependencies" not in response.data["message"]
    warnings = [record for record in caplog.records if record.name == "estafette.lib.api"]
    assert [record.levelno for record in warnings] == [logging.WARNING]
    assert warnings[0].exc_info is None


def test_other_database_errors_are_not_called_conflicts() -> None:
    request = APIRequestFactory().post("/api/anything", {}, format="json")

    with pytest.raises(IntegrityError):
        BrokenWrite.as_view()(request)
