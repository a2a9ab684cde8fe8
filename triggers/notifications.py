"""Who is told when a run fails or recovers: the notifiers (a chat), behind one interface, as forges are.

A build or release that **fails**, or that **recovers** (succeeds where the previous finished run of its series
failed), makes a ``RunNotice``; every registered notifier gets it (``Notifier.notify``; Slack's, from
``integrations/slack``, which decides the channel). A series is the runs that replace one another: a pipeline's
builds of one branch, its releases to one target and action. A canceled run ends no series: it is skipped when the
previous run is looked for, and is never announced itself.

The notices are worked out from the run events in ``triggers.reports`` (``run_notice_of``) and sent by consumers of
the run events (``triggers.consumers.BuildNotifyConsumer``…), with the forges' reports' guarantees: a notifier that
cannot be reached is retried with the queue's back-off and at worst recorded as a dead letter, and the run never
waits for it or fails because of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

FAILED, RECOVERED = "failed", "recovered"


@dataclass(frozen=True)
class RunNotice:
    """A run failed or recovered: what a notifier says, and what it chooses its audience by."""

    pipeline: str  # source/owner/name
    kind: str  # build, release
    run_id: int
    outcome: str  # failed, recovered
    version: str
    branch: str  # the build's branch (a release: its build's)
    target: str  # a release's target (and ``:action``); "" for a build
    url: str  # the run's page in the UI
    labels: Mapping[str, str]  # the pipeline's labels (a notifier may read its audience from them)


class Notifier(Protocol):
    def can_send(self) -> bool:
        """Whether it can send anything at all (it is configured): a notice no notifier can send is not worked out,
        which spares a read of the run per run's end (issue 17)."""
        ...

    def notify(self, notice: RunNotice) -> None:
        """Tell the notifier's audience; raises ``triggers.forges.ReportError`` (``permanent`` when repeating cannot
        help). Sends nothing when the notifier has no audience for the pipeline."""
        ...


_notifiers: dict[str, Notifier] = {}


def register_notifier(name: str, notifier: Notifier) -> None:
    """Register a notifier (from its integration's ``ready``)."""
    _notifiers[name] = notifier


def notifiers() -> list[Notifier]:
    return list(_notifiers.values())
