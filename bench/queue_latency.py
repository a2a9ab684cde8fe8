"""Queue latency and throughput: commit → consumer handle, through the outbox, the relay and JetStream.

    .venv/bin/python bench/queue_latency.py [--events 200] [--burst 1000]

Starts its own nats-server and a SQLite database in a temporary directory (or uses
ESTAFETTE_DATABASE_URL), then measures, each against the baseline of a direct JetStream publish
measured in the same run:

* latency of one event at a time: commit of ``publish_on_commit`` → ``handle()`` running in a
  consumer, with the relay (a) as a separate ``manage.py relay_outbox`` process (the ``make run``
  shape: it polls every ESTAFETTE_OUTBOX_POLL_INTERVAL_MS) and (b) in-process, woken by the commit;
* throughput of a burst: N events committed as fast as possible → all handled (events/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ESTAFETTE_DATA_DIR", tempfile.mkdtemp(prefix="estafette-bench-"))
os.environ.setdefault("ESTAFETTE_SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "estafette.settings")
os.environ.setdefault("ESTAFETTE_OUTBOX_RELAY_IN_PROCESS", "false")  # each variant is started explicitly

import django  # noqa: E402

django.setup()


from django.core.management import call_command  # noqa: E402

from estafette.queue import jetstream  # noqa: E402
from estafette.queue.consumer import Consumer, ReceivedEvent  # noqa: E402
from estafette.queue.jetstream import QueueSettings, ensure_stream  # noqa: E402
from estafette.queue.outbox import OutboxRelay, publish_on_commit  # noqa: E402
from estafette.queue.worker import run_consumers  # noqa: E402
from tests.tooling.nats import BackgroundLoop, NatsServer, subprocess_env  # noqa: E402


class Timing(Consumer):
    subject = "estafette.events.bench"
    durable = "bench"
    batch_size = 100

    def __init__(self) -> None:
        self.latencies: dict[str, float] = {}
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def handle(self, event: ReceivedEvent) -> None:
        now = time.time()
        with self.arrived:
            self.latencies[str(event.payload["id"])] = now - float(event.payload["t"])
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 120) -> None:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.latencies) >= count, timeout):
                raise SystemExit(f"only {len(self.latencies)} of {count} events arrived")


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"


def one_at_a_time(timing: Timing, send, events: int, prefix: str) -> list[float]:
    spacing = random.Random(5)
    for n in range(events):
        key = f"{prefix}-{n}"
        send(key)
        with timing.arrived:
            timing.arrived.wait_for(lambda key=key: key in timing.latencies, 30)
        time.sleep(spacing.uniform(0.005, 0.1))  # arrivals out of step with the relay's polling
    return [timing.latencies[f"{prefix}-{n}"] for n in range(events)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    server = NatsServer().start()
    queue = QueueSettings.from_django(url=server.url, user=server.user, password=server.password)
    timing = Timing()
    consuming = BackgroundLoop(lambda stop: run_consumers([timing], queue, stop=stop), name="consumer").start()

    loop = asyncio.new_event_loop()
    nc = loop.run_until_complete(jetstream.connect(queue, name="bench", wait_seconds=10))
    js = nc.jetstream()
    loop.run_until_complete(ensure_stream(js, queue))

    def direct(key: str) -> None:
        data = json.dumps({"id": key, "t": time.time()}).encode()
        loop.run_until_complete(js.publish("estafette.events.bench", data, headers={"Nats-Msg-Id": key}))

    def through_outbox(key: str) -> None:
        publish_on_commit("estafette.events.bench", {"id": key, "t": time.time()}, dedup_key=key)

    try:
        time.sleep(0.5)  # let the consumer bind
        print(f"queue latency, {args.events} events one at a time (commit → handle())")
        baseline = one_at_a_time(timing, direct, args.events, "direct")
        print(f"  baseline: direct JetStream publish      {percentiles(baseline)}")

        env = subprocess_env(queue)
        env["ESTAFETTE_OUTBOX_RELAY_IN_PROCESS"] = "false"
        relay_process = subprocess.Popen(
            [sys.executable, "manage.py", "relay_outbox"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
        )
        try:
            time.sleep(2)
            separate = one_at_a_time(timing, through_outbox, args.events, "separate")
        finally:
            relay_process.terminate()
            relay_process.wait(10)
        poll = os.environ.get("ESTAFETTE_OUTBOX_POLL_INTERVAL_MS", "50")
        print(
            f"  outbox + relay process (polls {poll} ms)  {percentiles(separate)}"
            f"   p50 x{statistics.median(separate) / statistics.median(baseline):.1f} of baseline"
        )

        relay = OutboxRelay(queue, batch_size=100)
        relaying = BackgroundLoop(
            lambda stop: relay.run(stop, claim_on_commit=True), name="relay"
        ).start()  # as start_relay_in_process() runs it
        try:
            time.sleep(0.5)
            in_process = one_at_a_time(timing, through_outbox, args.events, "inprocess")
            print(
                f"  outbox + in-process relay (woken)        {percentiles(in_process)}"
                f"   p50 x{statistics.median(in_process) / statistics.median(baseline):.1f} of baseline"
            )

            print(f"throughput, a burst of {args.burst} events committed as fast as possible")
            before = len(timing.latencies)
            started = time.time()
            for n in range(args.burst):
                through_outbox(f"burst-{n}")
            committed = time.time() - started
            timing.wait_for(before + args.burst)
            total = time.time() - started
            print(f"  committed {args.burst / committed:7.0f} events/s; handled all {args.burst / total:7.0f} events/s")
        finally:
            relaying.stop()

        started = time.time()
        for n in range(args.burst):
            direct(f"burstdirect-{n}")
        timing.wait_for(before + 2 * args.burst)
        print(f"  baseline: direct publish, handled {args.burst / (time.time() - started):7.0f} events/s")
    finally:
        consuming.stop()
        loop.run_until_complete(nc.close())
        server.close()


if __name__ == "__main__":
    main()
