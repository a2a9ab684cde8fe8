"""``manage.py push_event <clone-url-or-path> --branch B [--revision SHA]``: a git push, as the webhook takes it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from estafette.queue.jetstream import QueueSettings
from estafette.queue.models import OutboxMessage
from estafette.queue.outbox import OutboxRelay
from integrations.git.client import GitError
from integrations.git.identity import is_local
from integrations.git.intake import push_publish, push_resolve
from integrations.git.webhook import InvalidPush, make_push_event


class Command(BaseCommand):
    help = (
        "Publish a git push event for a repository (a clone URL or a local path), as POST "
        "/api/integrations/git/events does; the consumers then create the build."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repository", help="clone URL, or path of a local repository")
        parser.add_argument("--branch", required=True, help="the branch pushed to")
        parser.add_argument("--revision", help="the commit pushed (default: the head of the branch)")
        parser.add_argument(
            "--wait", type=float, default=10.0, help="seconds to wait for NATS to take the event (default 10)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        repository: str = options["repository"]
        if is_local(repository) and not repository.startswith("file://"):
            repository = str(Path(repository).expanduser().resolve())  # the consumers run elsewhere
        try:
            push = make_push_event(repository=repository, branch=options["branch"], revision=options["revision"])
            if push.revision is None:
                self.stdout.write(f"resolving the head of {push.branch} in {push.repository} …")
            push = push_resolve(push=push)
        except (InvalidPush, GitError) as error:
            raise CommandError(str(error)) from None
        event_id = push_publish(push=push)
        self.stdout.write(f"push of {push.identity.full_name} {push.branch} at {push.revision}: event {event_id}")
        if settings.OUTBOX_RELAY_IN_PROCESS and options["wait"] > 0:
            self._publish_now(event_id, wait_seconds=options["wait"])
        else:
            self.stdout.write("queued in the outbox; relay_outbox publishes it")

    def _publish_now(self, event_id: str, *, wait_seconds: float) -> None:
        """Relay the outbox until our event went out, rather than wait for the relay_outbox process."""
        queue = QueueSettings.from_django()
        stop = OutboxRelay(queue, name="push_event").start_in_thread()
        deadline = time.monotonic() + wait_seconds
        try:
            while time.monotonic() < deadline:
                if OutboxMessage.objects.filter(dedup_key=event_id, sent_at__isnull=False).exists():
                    self.stdout.write(f"published to {queue.url}")
                    return
                time.sleep(0.05)
        finally:
            stop()
        self.stdout.write(
            f"NATS at {queue.url} did not take the event within {wait_seconds:g}s; it stays in the outbox "
            "and relay_outbox publishes it once NATS is reachable"
        )
