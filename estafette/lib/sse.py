"""Server-Sent Events for live log tails.

``sse_stream`` turns a polling function into an event stream: ``log`` events as items arrive, a ``ping``
every few seconds so proxies keep the connection open, and ``close`` once the run is finished and
everything was sent. Polling keeps the API stateless (any replica can serve any tail) and works the
same on all three databases.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.http import StreamingHttpResponse

C = TypeVar("C")


@dataclass(frozen=True)
class Poll(Generic[C]):
    items: list[Any]
    cursor: C
    finished: bool


def sse_event(event: str, data: Any, *, event_id: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in payload.splitlines() or [""])
    return ("\n".join(lines) + "\n\n").encode()


def sse_stream(
    poll: Callable[[C], Poll[C]],
    cursor: C,
    *,
    interval: float = 0.25,
    ping_every: float = 5.0,
    max_seconds: float = 6 * 3600,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bytes]:
    started = last_sent = clock()
    # A first ping flushes the response headers so the browser knows the stream is open.
    yield sse_event("ping", {})
    while True:
        result = poll(cursor)
        cursor = result.cursor
        for item in result.items:
            yield sse_event("log", item)
            last_sent = clock()
        if result.finished:
            yield sse_event("close", {})
            return
        now = clock()
        if now - started > max_seconds:
            yield sse_event("close", {"reason": "stream open too long; reconnect to continue"})
            return
        if now - last_sent >= ping_every:
            yield sse_event("ping", {})
            last_sent = now
        sleep(interval)


def sse_response(stream: Iterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx/ingress: do not buffer, deliver each event as it comes
    return response
