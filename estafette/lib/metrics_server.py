"""A worker process's own ``/metrics`` over HTTP (consumers, relay, sweeper), for Prometheus in Kubernetes.

Under ``make run`` every process writes its counts to one multiprocess directory and the API's ``/metrics`` sums them
(``estafette.lib.metrics``). Across pods that cannot work: the directory is per pod, and nothing can be pushed into
another pod's. So in Kubernetes each worker serves what it counted itself on ``ESTAFETTE_METRICS_PORT`` (the chart
sets it; the PodMonitor scrapes it), with prometheus-client's WSGI app behind the same rule as the API's ``/metrics``:
``Authorization: Bearer <ESTAFETTE_METRICS_TOKEN>`` when a token is set, else clients on this machine only. The
database's state (runs by status, the outbox) stays the API's alone, so that nothing is counted twice.

:func:`start_metrics_server` is the one way to start it, once per process however often it is called: a process that
runs several workers (consumers with the relay in process, or relay, cron and sweeper together) serves them all from
one port.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "::1"})
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")  # WSGI/Django META names


def metrics_refusal(*, token: str, authorization: str, remote_addr: str | None, proxied: bool) -> str | None:
    """Why a scrape is refused (the message of a 403), or ``None`` when it may read the metrics.

    With ``token`` set only ``Bearer <token>`` passes; without, only a client on this machine that did not come
    through a proxy. Shared by the API's ``/metrics`` and the workers' servers.
    """
    if token:
        if hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
            return None
        return "send Authorization: Bearer <ESTAFETTE_METRICS_TOKEN> to read the metrics"
    if remote_addr in LOOPBACK and not proxied:
        return None
    return (
        "the metrics answer only this machine; set ESTAFETTE_METRICS_TOKEN on the server and scrape with "
        "Authorization: Bearer <token>"
    )


class MetricsServer:
    """The running server; :meth:`close` stops it (tests, a process's shutdown)."""

    def __init__(self, server: ThreadingWSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.address, self.port = server.server_address[:2]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        with _lock:
            if _running.get("server") is self:
                del _running["server"]


_lock = threading.Lock()
_running: dict[str, MetricsServer] = {}  # "server": this process's, once started


def start_metrics_server(*, port: int | None = None, address: str | None = None) -> MetricsServer | None:
    """Serve this process's metrics at ``http://address:port/metrics`` from a daemon thread; ``None`` when the port
    is 0 (the default: under ``make run`` the API's ``/metrics`` has every process's numbers). Defaults come from the
    settings (``METRICS_PORT``, ``METRICS_ADDRESS``, ``METRICS_TOKEN``). A second call returns the running server."""
    port = settings.METRICS_PORT if port is None else port
    if not port:
        return None
    with _lock:
        if "server" in _running:
            return _running["server"]
        app = _guarded(_metrics_app(), token=settings.METRICS_TOKEN)
        bind = settings.METRICS_ADDRESS if address is None else address
        try:
            server = make_server(bind, port, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler)
        except OSError as error:
            raise OSError(
                error.errno,
                f"cannot serve metrics on {bind}:{port} ({error.strerror}); set ESTAFETTE_METRICS_PORT to a free "
                "port, or 0 to serve none",
            ) from None
        thread = threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True)
        thread.start()
        running = _running["server"] = MetricsServer(server, thread)
        logger.info("serving metrics on %s:%d/metrics", bind, running.port)
        return running


def _metrics_app() -> Callable[..., Iterable[bytes]]:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return make_wsgi_app(REGISTRY)  # this process's counts, and its CPU, memory and file descriptors
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=directory)
    return make_wsgi_app(registry)


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _guarded(app: Callable[..., Iterable[bytes]], *, token: str) -> Callable[..., Iterable[bytes]]:
    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            return _json(start_response, "404 Not Found", "NotFound", "the metrics are at /metrics")
        refusal = metrics_refusal(
            token=token,
            authorization=str(environ.get("HTTP_AUTHORIZATION", "")),
            remote_addr=environ.get("REMOTE_ADDR"),
            proxied=any(name in environ for name in PROXY_HEADERS),
        )
        if refusal is not None:
            return _json(start_response, "403 Forbidden", "Forbidden", refusal)
        return app(environ, start_response)

    return guarded


def _json(start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    body = json.dumps({"code": code, "message": message}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class _QuietHandler(WSGIRequestHandler):
    """No access line on stderr for every scrape."""

    def log_message(self, format: str, *args: Any) -> None:
        pass
