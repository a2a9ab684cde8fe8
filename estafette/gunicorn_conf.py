"""gunicorn's hooks for the web process (``--config python:estafette.gunicorn_conf``; the Procfile and the image).

Metrics: with ``PROMETHEUS_MULTIPROC_DIR`` set, each worker writes its metrics to files there and ``/metrics`` sums
them. A worker that exits must be marked dead, or its live gauges (SSE tails open) would count forever.
"""

from __future__ import annotations

import os
from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
