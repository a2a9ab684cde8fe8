"""The builder ↔ API contract, as tests any API implementation can run (the fake one here; the Django one too).

Subclass :class:`BuilderApiContract` and provide a fixture ``api`` yielding an object that implements
:class:`builder.testing.ApiUnderTest` (URLs, job token, and read-back of what was stored). Every test speaks real
HTTP through the builder's own :class:`~builder.reporting.Reporter` and :class:`~builder.reporting.Transport`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from builder.contracts import (
    CONTRACT_VERSION,
    MAX_LOG_BATCH_LINES,
    MAX_STEP_NAME_CHARS,
    CiServerConfig,
    ImageInfo,
)
from builder.reporting import Reporter, Transport
from builder.steps import StepRef
from builder.testing import ApiUnderTest


def _reporter(api: ApiUnderTest, **options: object) -> Reporter:
    ci = CiServerConfig(base_url="", status_url=api.status_url, logs_url=api.logs_url, job_token=api.job_token)
    return Reporter(ci_server=ci, job_type="build", run_id=api.run_id, job_name="build-acme-api-1", **options)  # type: ignore[arg-type]


def _post(url: str, body: bytes, token: str | None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _batch(seq: int, *texts: str) -> bytes:
    lines = [
        {
            "step": "build",
            "parentStage": "",
            "type": "stage",
            "depth": 0,
            "runIndex": 0,
            "logLine": {"line": number, "timestamp": "2024-01-01T00:00:00Z", "streamType": "stdout", "text": text},
        }
        for number, text in enumerate(texts, 1)
    ]
    return json.dumps({"contractVersion": CONTRACT_VERSION, "seq": seq, "lines": lines}).encode()


class BuilderApiContract:
    """The tests. ``api`` is a fixture of the subclass's module."""

    def test_it_stores_statuses_and_log_lines_sent_by_the_reporter(self, api: ApiUnderTest) -> None:
        # given a reporter for a job
        reporter = _reporter(api, flush_interval=0.05)
        reporter.start()
        ref = StepRef("build")
        # when it reports a run with one stage
        assert reporter.send_status("running")
        reporter.update(ref.tail(status="RUNNING", image=ImageInfo(name="golang", tag="1.22")))
        reporter.log_lines(ref, "stdout", 1, "2024-01-01T00:00:00Z", ["compiling", "done"])
        reporter.update(ref.tail(status="SUCCEEDED", exit_code=0, duration=1_000_000))
        assert reporter.close("succeeded", timeout=30)
        # then the API has the statuses in order and the lines folded into the step
        assert api.stored_statuses() == ["running", "succeeded"]
        lines = api.stored_lines()
        assert [line.log_line.text for line in lines if line.log_line] == ["compiling", "done"]
        assert [line.status for line in lines if line.status] == ["RUNNING", "SUCCEEDED"]

    def test_it_stores_a_retried_batch_once(self, api: ApiUnderTest) -> None:
        # given a batch that was delivered, but whose answer the builder did not see
        body = _batch(1, "only once")
        assert _post(api.logs_url, body, api.job_token)[0] in (200, 201)
        # when the builder sends it again with the same seq
        status, _ = _post(api.logs_url, body, api.job_token)
        # then it is accepted and stored once
        assert status in (200, 201)
        assert [line.log_line.text for line in api.stored_lines() if line.log_line] == ["only once"]

    def test_it_keeps_batches_in_seq_order(self, api: ApiUnderTest) -> None:
        transport = Transport(token=api.job_token)
        assert transport.post(api.logs_url, _batch(2, "second")) in (200, 201)
        assert transport.post(api.logs_url, _batch(1, "first")) in (200, 201)
        transport.close()
        assert [line.log_line.text for line in api.stored_lines() if line.log_line] == ["first", "second"]

    def test_it_requires_the_job_token(self, api: ApiUnderTest) -> None:
        for token in (None, "not-the-token"):
            status, body = _post(api.logs_url, _batch(1, "x"), token)
            assert status == 401
            assert set(body) == {"code", "message"}
        assert api.stored_lines() == []

    def test_it_refuses_malformed_bodies_with_a_reason(self, api: ApiUnderTest) -> None:
        bad_bodies = [
            b"not json",
            json.dumps({"seq": 0, "lines": []}).encode(),
            json.dumps({"seq": 1, "lines": [{"step": 5}]}).encode(),
            json.dumps({"contractVersion": CONTRACT_VERSION + 1, "seq": 1, "lines": []}).encode(),
        ]
        for body in bad_bodies:
            status, answer = _post(api.logs_url, body, api.job_token)
            assert status == 400, body
            assert answer["message"], body
        status, answer = _post(api.status_url, json.dumps({"eventType": "updateStatus"}).encode(), api.job_token)
        assert status == 400 and answer["message"]

    def test_it_names_the_offending_line_and_field_of_a_malformed_batch(self, api: ApiUnderTest) -> None:
        good = json.loads(_batch(1, "fine"))["lines"][0]
        log_line = good["logLine"]
        bad_lines = [
            ({"step": " "}, "lines[1].step: must be a stage or service name"),
            ({"step": "x" * (MAX_STEP_NAME_CHARS + 1)}, "lines[1].step: must be a stage or service name"),
            ({"step": "b", "parentStage": "p" * (MAX_STEP_NAME_CHARS + 1)}, "lines[1].parentStage: must be"),
            ({"step": "b", "type": "sidecar"}, "lines[1].type: expected one of stage, service"),
            ({"step": "b", "depth": -1}, "lines[1].depth: must be at least 0"),
            ({"step": "b", "runIndex": -1}, "lines[1].runIndex: must be at least 0"),
            ({"step": "b", "status": "DONE"}, "lines[1].status: expected one of"),
            ({"step": "b", "exitCode": "0"}, "lines[1].exitCode: expected an integer"),
            ({"step": "b", "image": {"tag": "1"}}, "lines[1].image.name: is required"),
            ({"step": "b", "logLine": {**log_line, "line": -1}}, "lines[1].logLine.line: must be at least 0"),
            ({"step": "b", "logLine": {**log_line, "streamType": "stdin"}}, "lines[1].logLine.streamType"),
        ]
        for bad, names in bad_lines:
            body = json.dumps({"contractVersion": CONTRACT_VERSION, "seq": 1, "lines": [good, bad]}).encode()
            status, answer = _post(api.logs_url, body, api.job_token)
            assert (status, names in answer["message"]) == (400, True), (bad, answer)
        lines = [{"step": "b"}] * (MAX_LOG_BATCH_LINES + 1)
        body = json.dumps({"contractVersion": CONTRACT_VERSION, "seq": 1, "lines": lines}).encode()
        status, answer = _post(api.logs_url, body, api.job_token)
        assert status == 400
        assert f"lines: a batch holds at most {MAX_LOG_BATCH_LINES} lines" in answer["message"]
        assert api.stored_lines() == []

    def test_it_accepts_heartbeats_without_changing_the_status(self, api: ApiUnderTest) -> None:
        reporter = _reporter(api, heartbeat_interval=0.05)
        reporter.start()
        assert reporter.send_status("running")
        import time

        time.sleep(0.3)
        assert reporter.close("failed", timeout=30)
        assert api.stored_statuses() == ["running", "failed"]

    def test_it_refuses_every_report_once_the_run_has_ended(self, api: ApiUnderTest) -> None:
        # given a run its builder reported to the end
        reporter = _reporter(api, flush_interval=0.05)
        reporter.start()
        assert reporter.send_status("running")
        reporter.log_lines(StepRef("build"), "stdout", 1, "2024-01-01T00:00:00Z", ["the real log"])
        assert reporter.close("succeeded", timeout=30)

        def status(status: str | None, attempt: str) -> bytes:
            event = {"contractVersion": CONTRACT_VERSION, "jobType": "build", "id": api.run_id, "attempt": attempt}
            event |= {"eventType": "updateStatus", "status": status} if status else {"eventType": "heartbeat"}
            return json.dumps({**event, "timestamp": "2024-01-01T00:00:00Z"}).encode()

        forged = json.loads(_batch(1, "forged"))
        # when its job token reports anything more: the final status again, a heartbeat, a new attempt, forged lines
        late = [
            (api.status_url, status("failed", reporter.attempt)),
            (api.status_url, status(None, reporter.attempt)),
            (api.status_url, status("running", "another-attempt")),
            (api.logs_url, json.dumps({**forged, "seq": 99, "attempt": reporter.attempt}).encode()),
            (api.logs_url, json.dumps({**forged, "attempt": "another-attempt"}).encode()),
        ]
        # then each is refused with 409 and a reason, and nothing changed
        for url, body in late:
            answer_status, answer = _post(url, body, api.job_token)
            assert answer_status == 409, body
            assert set(answer) == {"code", "message"}
        assert api.stored_statuses() == ["running", "succeeded"]
        assert [line.log_line.text for line in api.stored_lines() if line.log_line] == ["the real log"]
