import pytest
from django.test import RequestFactory

from estafette.lib.api import server_error
from estafette.testing import client_for, make_user


@pytest.mark.django_db
def test_it_answers_an_unknown_api_route_in_estafettes_error_shape() -> None:
    response = client_for(make_user()).get("/api/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"code": "Not Found", "message": "no API route /api/nothing/here"}


def test_it_answers_a_server_error_under_api_without_details() -> None:
    response = server_error(RequestFactory().get("/api/pipelines"))
    assert response.status_code == 500
    assert b'"code": "Internal Server Error"' in response.content
    assert b"Traceback" not in response.content
