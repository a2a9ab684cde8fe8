"""``/metrics`` is not for everyone: what it tells (how busy the installation is, its routes, failure rates, queue
backlog) stays with the operator's Prometheus. Each attack → the outcome now.

Through Django's test client (the view and middleware as gunicorn runs them); the route pattern label is shown on the
real stack by ``tests/integration/test_metrics.py``.
"""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db


def test_an_outsider_without_a_token_is_refused_when_no_token_is_set(client: Client) -> None:
    # attack: a request from another machine → 403 saying how to scrape
    answer = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert answer.status_code == 403
    assert answer.json()["code"] == "Forbidden"
    assert "ESTAFETTE_METRICS_TOKEN" in answer.json()["message"]


@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"])
def test_a_request_through_a_proxy_on_this_machine_is_refused(client: Client, header: str) -> None:
    # attack: the outside world reaching gunicorn through a reverse proxy on the same host (REMOTE_ADDR 127.0.0.1)
    answer = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: "203.0.113.9"})
    assert answer.status_code == 403


def test_this_machine_reads_the_metrics_when_no_token_is_set(client: Client) -> None:
    answer = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert answer.status_code == 200
    names = {family.name for family in text_string_to_metric_families(answer.content.decode())}
    assert {"estafette_runs", "estafette_outbox_unsent_messages"} <= names


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Bearer s3cret-metrics-token-but-longer", "s3cret"])
def test_with_a_token_set_only_its_bearer_reads_the_metrics(
    client: Client, settings, authorization: str | None
) -> None:
    # attack: no token, a wrong one, a longer one, the right one without its scheme — even from this machine → 403
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers).status_code == 403
    # and the token itself is never echoed
    answer = client.get("/metrics", REMOTE_ADDR="203.0.113.9", **headers)
    assert b"s3cret" not in answer.content


def test_with_a_token_set_its_bearer_reads_the_metrics_from_anywhere(client: Client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    answer = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert answer.status_code == 200


def test_made_up_methods_and_paths_make_no_new_series(client: Client) -> None:
    # attack: requests with invented methods and paths, to grow the metrics without bound
    for number in range(5):
        client.generic(f"BREW{number}", f"/api/pipelines/x{number}/y/z/builds/{number}")
        client.get(f"/no/such/path/{number}")
    # then they are counted under a closed set of labels: method "other", the matched route pattern or "unmatched"
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    samples = [
        sample
        for family in text_string_to_metric_families(text)
        if family.name == "estafette_http_request_duration_seconds"
        for sample in family.samples
    ]
    methods = {sample.labels["method"] for sample in samples}
    routes = {sample.labels["route"] for sample in samples}
    assert not any(method.startswith("BREW") for method in methods) and "other" in methods
    assert not any("x1" in route or "/no/such" in route for route in routes)
    assert "unmatched" in routes or any("<" in route for route in routes)
