"""``GET /metrics``: the Prometheus text format (prometheus-client), for Prometheus or the chart's ServiceMonitor.

What it shows is the events every process counted (``estafette.lib.metrics``; summed over processes in multiprocess
mode) and the state read from the database now (``DatabaseState``): runs by kind and status, the outbox's depth and
the age of its oldest unsent event.

**Who may read it.** Even without names in its labels, ``/metrics`` tells an outsider how busy the installation is,
which routes exist and are used, how often builds fail and whether events pile up: it is not public. With
``ESTAFETTE_METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>`` (the chart's ServiceMonitor
sends it); without it, only a client on this machine that did not come through a proxy (``make run``'s
Prometheus or ``curl localhost``) is answered. Anyone else gets a 403 saying what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from estafette.lib.metrics_server import PROXY_HEADERS, metrics_refusal
from estafette.queue.models import OutboxMessage
from runs.models import RunStatus
from runs.registry import run_kinds


class DatabaseState:
    """Gauges read from the database at scrape time (the one place that knows them; see ``estafette.lib.metrics``)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily(
            "estafette_runs", "Runs in the database now, by kind and status.", labels=["kind", "status"]
        )
        for kind in run_kinds():
            counts = dict(kind.model.objects.values_list("status").annotate(count=Count("pk")).order_by())
            for status in RunStatus.values:
                runs.add_metric([kind.name, status], counts.get(status, 0))
        yield runs
        unsent = OutboxMessage.objects.filter(sent_at__isnull=True).aggregate(
            count=Count("pk"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "estafette_outbox_unsent_messages",
            "Events written to the outbox and not yet published.",
            value=unsent["count"],
        )
        age = (timezone.now() - unsent["oldest"]).total_seconds() if unsent["oldest"] is not None else 0.0
        yield GaugeMetricFamily(
            "estafette_outbox_oldest_unsent_age_seconds",
            "Age of the oldest event waiting in the outbox (0 when none waits).",
            value=max(0.0, age),
        )


class _ThisProcess:
    """The default registry's metrics (this process only): the collector when no multiprocess directory is set."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def metrics(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())  # type: ignore[arg-type]
    registry.register(DatabaseState())  # type: ignore[arg-type]
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    refusal = metrics_refusal(
        token=settings.METRICS_TOKEN,
        authorization=request.headers.get("Authorization", ""),
        remote_addr=request.META.get("REMOTE_ADDR"),
        proxied=any(name in request.META for name in PROXY_HEADERS),
    )
    return _forbidden(refusal) if refusal is not None else None


def _forbidden(message: str) -> JsonResponse:
    return JsonResponse({"code": "Forbidden", "message": message}, status=403)
