"""The server's Prometheus metrics (prometheus-client): what each process counts as it works.

Two kinds of number, chosen by where the truth lives:

* **Events, counted where they happen** (this module): runs finished, run and stage durations, pending time, job
  start latency, queue lag, log lines and bytes taken in, live tails open, HTTP latency by route. They happen in
  several processes (gunicorn's workers, the consumers, the relay), so with ``PROMETHEUS_MULTIPROC_DIR`` set (``make
  run``, the chart) prometheus-client's multiprocess mode writes each process's values to files there and
  ``/metrics`` sums them (``estafette.metrics_view``); without it (tests, ``runserver``) they stay in the process.
  Multiprocess mode rather than a metrics push from each process: nothing to run beside them, and the gunicorn
  worker that answers a scrape sees every process's numbers.
* **State, read from the database at scrape time** (``estafette.metrics_view``): runs by kind and status, the
  outbox's depth and age. Counting these in processes would drift (a process that dies loses its part, two
  processes count one change); the database is the one place that knows them, and a scrape every 15-60 s costs two
  grouped counts.

Labels are closed sets (run kind, status, consumer, URL route pattern, HTTP method and status): never a pipeline,
user or raw path, which would leak names to whoever reads ``/metrics`` and grow without bound.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Seconds: from a quick stage to a long build.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))
# Seconds: how long a run waits for its job, or a job takes to start.
WAIT_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, float("inf"))
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf"))
MEMORY_BUCKETS = (*(float(2**power) for power in range(20, 36, 2)), float("inf"))  # 1 MiB … 16 GiB
CPU_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, float("inf"))

runs_finished = Counter(
    "estafette_runs_finished", "Runs that reached a final status, by kind and status.", ["kind", "status"]
)
run_duration = Histogram(
    "estafette_run_duration_seconds",
    "Run time of finished runs (start → end; creation → end for runs that never started).",
    ["kind", "status"],
    buckets=DURATION_BUCKETS,
)
run_pending = Histogram(
    "estafette_run_pending_seconds",
    "How long a run waited from its creation until its builder reported it running.",
    ["kind"],
    buckets=WAIT_BUCKETS,
)
stage_duration = Histogram(
    "estafette_stage_duration_seconds",
    "Duration of finished stages as the builder reports them, by run kind and step status.",
    ["kind", "status"],
    buckets=DURATION_BUCKETS,
)
stage_cpu = Histogram(
    "estafette_stage_cpu_seconds",
    "CPU time of finished stages, where the executor measured it.",
    ["kind"],
    buckets=CPU_BUCKETS,
)
stage_memory = Histogram(
    "estafette_stage_memory_max_bytes",
    "Peak memory of finished stages, where the executor measured it.",
    ["kind"],
    buckets=MEMORY_BUCKETS,
)
job_start = Histogram(
    "estafette_job_start_seconds",
    "How long the job runner took to start a run's job (spawn a process, hand to a standby, create a Kubernetes Job).",
    ["kind"],
    buckets=WAIT_BUCKETS,
)
queue_lag = Gauge(
    "estafette_queue_lag_seconds",
    "Age of the last event a consumer took, when it took it (publish → handling).",
    ["consumer"],
    multiprocess_mode="mostrecent",
)
queue_pending = Gauge(
    "estafette_queue_pending_messages",
    "Events waiting for a consumer behind the last one it took (JetStream's num_pending).",
    ["consumer"],
    multiprocess_mode="mostrecent",
)
events_handled = Counter(
    "estafette_queue_events_handled", "Events a consumer settled, by outcome (ack, nak, term).", ["consumer", "outcome"]
)
log_lines = Counter("estafette_log_lines_ingested", "Log lines taken in from builders, by run kind.", ["kind"])
log_bytes = Counter("estafette_log_bytes_ingested", "Bytes of log text taken in from builders, by run kind.", ["kind"])
live_tails = Gauge("estafette_live_tails_open", "Live log streams (SSE) open now.", multiprocess_mode="livesum")
http_latency = Histogram(
    "estafette_http_request_duration_seconds",
    "Time to answer an HTTP request (to the first byte of a streamed one), by route pattern, method and status.",
    ["route", "method", "status"],
    buckets=HTTP_BUCKETS,
)
