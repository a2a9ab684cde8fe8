"""gunicorn's hooks for the web process (``--config python:estafette.gunicorn_conf``; the Procfile and the image).

* A worker dies with its master. Left alone, the workers of a SIGKILLed master finish their open requests (up to the
  graceful timeout, and a live tail is open for minutes) while holding the listening socket, so the master that
  supervisord starts again cannot bind the port and a connection sent to the orphans' socket is never answered. The
  kernel ends them instead (``PR_SET_PDEATHSIG``), as a pod's containers end together; their requests were lost with
  the master anyway, and the builder and the UI retry.
* Metrics: with ``PROMETHEUS_MULTIPROC_DIR`` set, each worker writes its metrics to files there and ``/metrics`` sums
  them. A worker that exits is marked dead, or its live gauges (live tails open) would count it for ever.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def post_fork(server: Any, worker: Any) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            server.log.warning("worker %s will outlive a killed master: prctl failed", worker.pid)
        if os.getppid() != server.pid:  # the master died between fork and prctl
            os._exit(1)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
