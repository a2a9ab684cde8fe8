"""The workers' own ``/metrics`` servers (consumers, relay, sweeper in Kubernetes) follow the API's rule: with
``ESTAFETTE_METRICS_TOKEN`` only its bearer reads them, without one only this machine, never through a proxy. Each
attack → the outcome now, over real HTTP to a server on a free port.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from builder.testing import reserve_port
from estafette.lib.metrics_server import MetricsServer, metrics_refusal, start_metrics_server

TOKEN = "s3cret-worker-metrics-token"


@pytest.fixture
def serve(settings) -> Iterator[object]:
    servers: list[MetricsServer] = []

    def start(token: str) -> MetricsServer:
        settings.METRICS_TOKEN = token
        server = start_metrics_server(port=reserve_port(), address="127.0.0.1")
        assert server is not None
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def status_of(server: MetricsServer, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Bearer {TOKEN}-longer", TOKEN, f"Basic {TOKEN}"])
def test_with_a_token_set_anything_but_its_bearer_is_refused(serve, authorization: str | None) -> None:
    # attack: no token, a wrong one, a longer one, the right one without its scheme or with another → 403 JSON
    server = serve(TOKEN)
    status, body = status_of(server, {"Authorization": authorization} if authorization else {})
    assert status == 403
    assert json.loads(body)["code"] == "Forbidden"
    assert TOKEN.encode() not in body  # never echoed
    assert status_of(server, {"Authorization": f"Bearer {TOKEN}"})[0] == 200


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_without_a_token_a_request_through_a_proxy_on_this_machine_is_refused(serve, header: str) -> None:
    # attack: the outside world reaching the worker's port through a proxy on the same host
    server = serve("")
    assert status_of(server, {header: "203.0.113.9"})[0] == 403
    assert status_of(server, {})[0] == 200  # this machine itself reads them


def test_without_a_token_another_machine_is_refused() -> None:
    # attack: a scrape from another address of the network (the rule the server applies to REMOTE_ADDR)
    refusal = metrics_refusal(token="", authorization="", remote_addr="10.1.2.3", proxied=False)
    assert refusal is not None and "ESTAFETTE_METRICS_TOKEN" in refusal
