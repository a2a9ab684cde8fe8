"""Times each HTTP request for ``/metrics`` (``estafette_http_request_duration_seconds``), by route pattern.

The route is the URL pattern Django matched (``api/pipelines/<str:source>/<str:owner>/<str:name>/builds``), never the
path itself: paths carry pipeline names and ids, which would leak to whoever reads the metrics and make a series per
build. A request no route matched counts as ``unmatched``. A streamed answer (a live tail) is timed to its first
byte: the stream itself stays open for minutes. A method outside HTTP's own counts as ``other``: a client picks it,
and must not be able to make new series.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from estafette.lib import metrics

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        method = request.method if request.method in METHODS else "other"
        metrics.http_latency.labels(route, method, str(response.status_code)).observe(time.perf_counter() - started)
        return response
