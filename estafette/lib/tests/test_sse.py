from estafette.lib.sse import Poll, sse_event, sse_stream


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_it_formats_events_with_multi_line_data() -> None:
    assert sse_event("log", "a\nb") == b"event: log\ndata: a\ndata: b\n\n"
    assert sse_event("log", {"x": 1}, event_id="7") == b'event: log\nid: 7\ndata: {"x":1}\n\n'


def test_it_streams_items_pings_while_idle_and_closes_when_finished() -> None:
    # given a run that produces one line, stays quiet for 6 seconds, then finishes
    clock = FakeClock()
    batches = {0: ["first"], 1: []}

    def poll(cursor: int) -> Poll[int]:
        if clock.now >= 6.0:
            return Poll(items=["last"], cursor=cursor + 1, finished=True)
        return Poll(items=batches.get(cursor, []), cursor=cursor + 1, finished=False)

    # when the stream is read to the end
    events = [chunk.split(b"\n")[0].decode() for chunk in sse_stream(poll, 0, clock=clock, sleep=clock.sleep)]
    # then lines come as log events, a ping keeps the idle stream alive, and close ends it
    assert events[0] == "event: ping"
    assert events[1] == "event: log"
    assert events.count("event: ping") == 2
    assert events[-2:] == ["event: log", "event: close"]
