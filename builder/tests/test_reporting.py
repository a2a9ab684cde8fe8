"""The reporter against the fake API over real HTTP: batching, live delivery, retries, outages, backpressure."""

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from builder.contracts import TailLogLine
from builder.reporting import Reporter, Transport
from builder.steps import StepRef
from builder.testing import END_PATH, LOGS_PATH, STATUS_PATH, FakeApi

REF = StepRef("build")


@pytest.fixture(params=[True, False], ids=["end-route", "older-api"])
def api(request: pytest.FixtureRequest) -> Iterator[FakeApi]:
    """The API with the end route (the last batch and the final status in one request), and an older one without."""
    with FakeApi(end_route=request.param) as fake:
        yield fake


def final_status_path(api: FakeApi) -> str:
    """Where the reporter sends the final status to ``api``."""
    return END_PATH if api.end_route else STATUS_PATH


def make_reporter(api: FakeApi, **options: object) -> Reporter:
    defaults: dict[str, object] = {
        "flush_interval": 0.05,
        "backoff_initial": 0.02,
        "backoff_max": 0.2,
        "log": lambda m: None,
    }
    defaults.update(options)
    return Reporter(ci_server=api.ci_server(), job_type="build", run_id="42", **defaults)  # type: ignore[arg-type]


def emit(reporter: Reporter, count: int, *, start: int = 1, prefix: str = "line") -> None:
    reporter.log_lines(
        REF, "stdout", start, "2024-01-01T00:00:00Z", [f"{prefix} {n}" for n in range(start, start + count)]
    )


def test_it_delivers_lines_live_before_the_run_ends(api: FakeApi) -> None:
    # given a started reporter
    reporter = make_reporter(api)
    reporter.start()
    # when a few lines are logged and nothing else happens
    emit(reporter, 3)
    # then they reach the API within the flush interval, not only at the end
    api.wait_until(lambda fake: len(fake.texts("build")) == 3, timeout=5)
    reporter.close("succeeded", timeout=10)


def test_it_bounds_batches_by_line_count_and_size(api: FakeApi) -> None:
    # given small batch limits
    reporter = make_reporter(api, max_batch_lines=100, max_batch_bytes=50_000, flush_interval=5)
    reporter.start()
    # when many lines, then a few big ones, are logged
    emit(reporter, 1000)
    reporter.log_lines(REF, "stdout", 1001, "t", ["x" * 20_000] * 6)
    reporter.close("succeeded", timeout=30)
    # then no batch exceeds the limits and every line arrived once, in order
    assert all(len(batch.lines) <= 100 for batch in api.batches.values())
    assert all(
        sum(len(line.log_line.text) for line in batch.lines if line.log_line) <= 50_000
        for batch in api.batches.values()
    )
    texts = api.texts("build")
    assert texts[:1000] == [f"line {n}" for n in range(1, 1001)]
    assert len(texts) == 1006
    assert sorted(api.batches) == list(range(1, len(api.batches) + 1))


def test_it_retries_failed_deliveries_and_the_api_stores_each_batch_once(api: FakeApi) -> None:
    # given an API that fails the next requests
    reporter = make_reporter(api)
    reporter.start()
    api.fail_next(5)
    # when lines are logged
    emit(reporter, 10)
    reporter.close("succeeded", timeout=30)
    # then they all arrived despite the failures
    assert api.texts("build") == [f"line {n}" for n in range(1, 11)]
    assert reporter.retried_deliveries >= 5
    assert api.stored_statuses() == ["succeeded"]


def test_the_final_status_waits_for_an_api_that_is_down_when_the_run_ends(api: FakeApi) -> None:
    # given a run whose stages are done, and an API down when the builder reports the end (its web server restarting)
    reporter = make_reporter(api)
    reporter.start()
    emit(reporter, 10)
    api.wait_until(lambda fake: len(fake.texts("build")) == 10)
    api.set_down(True)
    # when the API comes back while the builder is still retrying its final status
    comes_back = threading.Thread(
        target=lambda: (api.wait_until(lambda _: reporter.retried_deliveries >= 3), api.set_down(False))
    )
    comes_back.start()
    delivered = reporter.close("succeeded", timeout=60)
    comes_back.join()
    # then the run is reported succeeded (the outage cost retries, not the outcome)
    assert delivered
    assert reporter.retried_deliveries >= 3
    assert api.stored_statuses() == ["succeeded"]


def test_it_loses_nothing_during_an_api_outage(api: FakeApi) -> None:
    # given an API that goes down while a stage is logging
    reporter = make_reporter(api)
    reporter.start()
    emit(reporter, 100)
    api.wait_until(lambda fake: len(fake.texts("build")) == 100)
    api.set_down(True)
    emit(reporter, 100, start=101)
    time.sleep(1.0)  # several retry rounds fail meanwhile
    assert len(api.texts("build")) == 100
    # when the API comes back
    api.set_down(False)
    reporter.close("succeeded", timeout=30)
    # then every line is there exactly once, and the final status says how many batches to expect
    assert api.texts("build") == [f"line {n}" for n in range(1, 201)]
    assert api.statuses[-1].status == "succeeded"
    assert api.statuses[-1].log_batches == len(api.batches)


def test_it_blocks_producers_when_its_buffer_is_full_instead_of_dropping(api: FakeApi) -> None:
    # given a small buffer and an API that is down
    reporter = make_reporter(api, buffer_limit_bytes=20_000, max_batch_bytes=5_000)
    reporter.start()
    api.set_down(True)
    done = threading.Event()

    def produce() -> None:
        for chunk in range(50):
            emit(reporter, 10, start=chunk * 10 + 1)
        done.set()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    # when the buffer fills up
    time.sleep(0.5)
    # then the producer waits
    assert not done.is_set()
    # and once the API is back everything flows through
    api.set_down(False)
    assert done.wait(20)
    reporter.close("succeeded", timeout=30)
    assert len(api.texts("build")) == 500


def test_it_drops_a_batch_the_api_refuses_permanently_and_carries_on(api: FakeApi) -> None:
    messages: list[str] = []
    reporter = make_reporter(api, log=messages.append)
    reporter.start()
    api.fail_next(1, status=422)
    emit(reporter, 1)
    api.wait_until(lambda fake: ("/api/builder/logs", 422) in fake.requests)
    emit(reporter, 1, start=2)
    reporter.close("succeeded", timeout=10)
    assert api.texts("build") == ["line 2"]
    assert reporter.dropped_batches == 1
    assert any("refused it with HTTP 422" in message for message in messages)


def test_it_sends_heartbeats(api: FakeApi) -> None:
    reporter = make_reporter(api, heartbeat_interval=0.05)
    reporter.start()
    api.wait_until(lambda fake: len(fake.heartbeats) >= 2)
    reporter.close("succeeded", timeout=10)
    assert all(event.id == "42" and event.status is None for event in api.heartbeats)


def test_it_gives_up_draining_at_the_deadline_and_says_so(api: FakeApi) -> None:
    messages: list[str] = []
    reporter = make_reporter(api, log=messages.append)
    reporter.start()
    api.set_down(True)
    emit(reporter, 5)
    started = time.monotonic()
    assert not reporter.close("failed", timeout=1)
    assert time.monotonic() - started < 10
    assert any("gave up delivering 5 log lines" in message for message in messages)


def test_it_marks_every_report_with_the_attempt_of_its_builder_process(api: FakeApi) -> None:
    # given two reporters, as two builder processes of the same run would have (a re-run pod)
    first, second = make_reporter(api, heartbeat_interval=0.05), make_reporter(api)
    # when the first reports a line and a status (and heartbeats meanwhile)
    first.start(initial_status="running")
    emit(first, 1)
    api.wait_until(lambda fake: bool(fake.heartbeats) and fake.line_count() == 1, timeout=5)
    first.close("failed", timeout=10)
    # then each report carries the first one's attempt, and the second's differs
    assert len(first.attempt) == 16 and first.attempt != second.attempt
    assert {event.attempt for event in api.statuses + api.heartbeats} == {first.attempt}
    assert {batch.attempt for batch in api.batches.values()} == {first.attempt}


def test_a_final_status_whose_answer_was_lost_ends_with_the_409_of_its_retry(api: FakeApi) -> None:
    # given a reporter whose lines were delivered, and an API whose answer to the final status gets lost
    messages: list[str] = []
    reporter = make_reporter(api, log=messages.append)
    reporter.start()
    emit(reporter, 3)
    api.wait_until(lambda fake: len(fake.texts("build")) == 3)
    api.lose_answers(1)
    # when the run is closed: the status is stored, its answer lost, the retry refused with 409 (the run has ended)
    started = time.monotonic()
    complete = reporter.close("succeeded", timeout=60)
    # then the reporter takes the 409 as final: no retries for ever, the run counts as reported, and it says why
    assert time.monotonic() - started < 5
    assert complete
    assert api.stored_statuses() == ["succeeded"]
    assert [status for path, status in api.requests if path == final_status_path(api)] == [502, 409]
    assert any("409" in message and "already ended" in message for message in messages)


def test_it_stops_reporting_once_the_api_ended_the_run(api: FakeApi) -> None:
    # given a reporter with a small buffer and heartbeats, whose run the API ends (canceled, or failed by its sweeper)
    messages: list[str] = []
    reporter = make_reporter(api, log=messages.append, heartbeat_interval=0.05, buffer_limit_bytes=2_000)
    reporter.start()
    emit(reporter, 1)
    api.wait_until(lambda fake: len(fake.texts("build")) == 1)
    api.end_run()
    # when the stage goes on printing, far more than the buffer holds
    finished = threading.Event()

    def produce() -> None:
        for chunk in range(200):
            emit(reporter, 5, start=2 + chunk * 5)
        finished.set()

    threading.Thread(target=produce, daemon=True).start()
    # then the stage is not held up, the first 409 stops every report (no more batches, heartbeats or final status)
    assert finished.wait(10)
    assert not reporter.close("succeeded", timeout=30)
    refused = [path for path, status in api.requests if status == 409]
    # (the sender and the heartbeat thread may each have had one request in flight when the run ended)
    assert refused.count("/api/builder/logs") <= 1
    assert refused.count("/api/builder/status") <= 1
    assert api.texts("build") == ["line 1"]
    assert api.stored_statuses() == []
    assert sum("reporting stops" in message for message in messages) == 1


class ClosingIdleConnections(BaseHTTPRequestHandler):
    """Answers keep-alive (HTTP/1.1, no ``Connection: close``), then closes the connection: a server whose keep-alive
    timeout passed before the client's next request (gunicorn's is 2 s)."""

    protocol_version = "HTTP/1.1"
    requests = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_its_transport_sends_again_on_a_new_connection_when_the_server_closed_the_kept_alive_one() -> None:
    # given a server that closes every connection after answering, and a transport that delivered one request
    server = ThreadingHTTPServer(("127.0.0.1", 0), ClosingIdleConnections)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api/builder/v1/build/42/status"
    transport = Transport(token="job-token")
    try:
        assert transport.post(url, b"{}") == 200
        time.sleep(0.1)  # the server's close reaches the client

        # when the next requests go out on the connection the server closed
        statuses = [transport.post(url, b"{}"), transport.post(url, b"{}")]

        # then they are delivered, each once
        assert statuses == [200, 200]
        assert ClosingIdleConnections.requests == 3
    finally:
        transport.close()
        server.shutdown()
        server.server_close()


def test_every_report_carries_the_runs_request_id(api: FakeApi) -> None:
    # given a reporter of a run started by request "req-42"
    reporter = make_reporter(api, request_id="req-42", heartbeat_interval=0.05)
    reporter.start(initial_status="running")
    emit(reporter, 3)
    api.wait_until(lambda fake: len(fake.heartbeats) >= 1)
    reporter.close("succeeded", timeout=30)
    # then status events, log batches and heartbeats all sent it
    assert api.request_ids == {"req-42"}


def test_a_short_run_reports_in_two_requests_on_one_connection() -> None:
    # given an API with the end route, and a run whose lines are all still unsent when it ends
    with FakeApi() as api:
        reporter = make_reporter(api, flush_interval=5)
        reporter.start(initial_status="running")
        api.wait_until(lambda fake: fake.stored_statuses() == ["running"])
        emit(reporter, 3)
        # when it ends
        complete = reporter.close("succeeded", timeout=60)
        # then the running status, and the lines with the final status, went in two requests over one connection
        assert complete
        assert api.requests == [(STATUS_PATH, 200), (END_PATH, 200)]
        assert api.connections == 1
        assert api.stored_statuses() == ["running", "succeeded"]
        assert api.statuses[-1].log_batches == 1
        assert api.texts("build") == ["line 1", "line 2", "line 3"]
        assert (reporter.delivered_batches, reporter.dropped_batches) == (1, 0)


def test_an_older_api_without_the_end_route_gets_the_last_batch_and_the_final_status_apart() -> None:
    # given an API of before the end route, and a builder told of one (a rolling upgrade: a newer dispatcher)
    with FakeApi(end_route=False) as api:
        messages: list[str] = []
        reporter = Reporter(
            ci_server=api.ci_server(end_url=True),
            job_type="build",
            run_id="42",
            flush_interval=5,
            backoff_initial=0.02,
            log=messages.append,
        )
        reporter.start()
        emit(reporter, 2)
        # when the run ends
        complete = reporter.close("failed", timeout=60)
        # then the 404 of the end route sent them the old way, batch first, and nothing was lost
        assert complete
        assert api.requests == [(END_PATH, 404), (LOGS_PATH, 201), (STATUS_PATH, 200)]
        assert api.stored_statuses() == ["failed"]
        assert api.texts("build") == ["line 1", "line 2"]
        assert any("no end route" in message for message in messages)


def test_the_last_lines_and_the_final_status_wait_together_for_an_api_that_is_down() -> None:
    # given a run whose last lines are unsent when it ends, and an API down at that moment (a restart)
    with FakeApi() as api:
        reporter = make_reporter(api, flush_interval=5)
        reporter.start()
        emit(reporter, 4)
        api.set_down(True)
        comes_back = threading.Thread(
            target=lambda: (api.wait_until(lambda _: reporter.retried_deliveries >= 3), api.set_down(False))
        )
        comes_back.start()
        # when it ends while the API is down, which comes back during the retries
        complete = reporter.close("succeeded", timeout=60)
        comes_back.join()
        # then the run ends succeeded with all its lines, stored once (the outage cost retries, not the outcome)
        assert complete
        assert [status for path, status in api.requests if path == END_PATH][-1] == 200
        assert api.stored_statuses() == ["succeeded"]
        assert api.texts("build") == [f"line {n}" for n in range(1, 5)]
        assert api.duplicate_batches == 0


def running(step: str) -> TailLogLine:
    return TailLogLine(step=step, status="RUNNING")


def test_short_stages_go_in_one_batch_and_a_long_ones_output_still_goes_live(api: FakeApi) -> None:
    # given a reporter that flushes every 50 ms, but holds a batch while a stage younger than 1 s runs (for up to 3 s)
    reporter = make_reporter(api, flush_interval=0.05, stage_grace=1.0, max_flush_delay=3.0)
    reporter.start()
    # when two short stages start, print and end within the grace
    for stage in ("first", "second"):
        reporter.update(running(stage))
        reporter.log_lines(StepRef(stage), "stdout", 1, "2024-01-01T00:00:00Z", [f"{stage} output"])
        reporter.update(TailLogLine(step=stage, status="SUCCEEDED", exit_code=0, duration=1))
    started = time.monotonic()
    # then they go together, in one batch, once the grace is over (and no later than the longest delay)
    api.wait_until(lambda fake: len(fake.batches) == 1)
    assert time.monotonic() - started < 3.0
    assert [line.step for line in api.batches[1].lines] == ["first"] * 3 + ["second"] * 3
    # when a stage then runs on past its grace, its output goes live again, every flush interval
    reporter.update(running("long"))
    api.wait_until(lambda fake: len(fake.batches) == 2)  # its start, once the grace is over
    emit(reporter, 1)
    started = time.monotonic()
    api.wait_until(lambda fake: len(fake.batches) == 3)
    assert time.monotonic() - started < 1.0  # the flush interval (50 ms), not a grace: a loaded machine's margin
    assert reporter.close("succeeded", timeout=60)
