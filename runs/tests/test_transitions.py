from datetime import UTC, datetime

import pytest

from builds.models import Build
from builds.testing import make_build
from runs.models import RunStatus

ALL = list(RunStatus)
# (method, status argument) -> the statuses from which it succeeds and the status it leads to.
TRANSITIONS = {
    ("start", None): ({RunStatus.PENDING}, RunStatus.RUNNING),
    ("finish", RunStatus.SUCCEEDED): ({RunStatus.RUNNING}, RunStatus.SUCCEEDED),
    ("finish", RunStatus.FAILED): ({RunStatus.RUNNING}, RunStatus.FAILED),
    ("finish", RunStatus.CANCELED): ({RunStatus.PENDING, RunStatus.CANCELING}, RunStatus.CANCELED),
    ("request_cancel", None): ({RunStatus.RUNNING}, RunStatus.CANCELING),
    ("cancel", None): ({RunStatus.PENDING, RunStatus.CANCELING}, RunStatus.CANCELED),
}
CASES = [
    (method, argument, start, start in allowed, target)
    for (method, argument), (allowed, target) in TRANSITIONS.items()
    for start in ALL
]


def call(build: Build, method: str, argument: str | None, now: datetime) -> bool:
    if argument is None:
        return getattr(build, method)(now=now)
    return getattr(build, method)(status=argument, now=now)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "argument", "start", "allowed", "target"), CASES)
def test_it_allows_exactly_estafettes_transitions(
    method: str, argument: str | None, start: str, allowed: bool, target: str
) -> None:
    # given
    build = make_build(status=start)
    before = Build.objects.get(pk=build.pk)
    now = datetime(2030, 1, 1, tzinfo=UTC)

    # when
    changed = call(build, method, argument, now)

    # then
    stored = Build.objects.get(pk=build.pk)
    assert changed is allowed
    if allowed:
        assert stored.status == target == build.status
        assert stored.updated_at == now
    else:
        assert (stored.status, stored.updated_at, stored.started_at) == (
            before.status,
            before.updated_at,
            before.started_at,
        )
        assert build.status == start


@pytest.mark.django_db
def test_it_records_when_a_build_started_and_its_durations() -> None:
    # given
    inserted = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    started = datetime(2030, 1, 1, 12, 0, 2, tzinfo=UTC)
    finished = datetime(2030, 1, 1, 12, 1, 2, 500000, tzinfo=UTC)
    build = make_build(now=inserted)

    # when
    build.start(now=started)
    assert build.duration_ns is None
    build.finish(status=RunStatus.SUCCEEDED, now=finished)

    # then
    stored = Build.objects.get(pk=build.pk)
    assert stored.started_at == started
    assert stored.pending_duration_ns == 2_000_000_000
    assert stored.duration_ns == 60_500_000_000


@pytest.mark.django_db
def test_it_refuses_to_finish_with_a_status_that_is_not_final() -> None:
    build = make_build(status=RunStatus.RUNNING)
    with pytest.raises(ValueError, match="finish\\(\\) takes succeeded, failed or canceled"):
        build.finish(status=RunStatus.RUNNING)


@pytest.mark.django_db
def test_it_shows_the_status_that_won_after_a_refused_transition() -> None:
    # given two copies of one pending build, as two racing requests would hold them
    build = make_build()
    other = Build.objects.get(pk=build.pk)
    assert other.cancel()

    # when the stale copy tries to start it
    changed = build.start()

    # then nothing changes and the copy now shows the winner's status
    assert changed is False
    assert build.status == RunStatus.CANCELED
    assert Build.objects.get(pk=build.pk).status == RunStatus.CANCELED
