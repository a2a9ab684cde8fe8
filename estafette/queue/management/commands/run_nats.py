"""``manage.py run_nats``: the local nats-server of ``make run`` (JetStream store in the data dir).

It admits one user, ``settings.NATS_USER`` with ``settings.NATS_PASSWORD`` (generated into the data dir on first
run), through a config file in the data dir: see ``estafette.queue.server``. No monitoring port is opened (it would
answer anyone on the machine).

When ``ESTAFETTE_NATS_URL`` points at an existing server, nothing is started and the command waits
until stopped (under supervisord, a process that exits would be started again and again).
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from estafette.queue.server import nats_server_argv, write_nats_config

CONFIG_FILE_NAME = "nats-server.conf"


class Command(BaseCommand):
    help = "Run the local nats-server with JetStream, unless ESTAFETTE_NATS_URL names another server."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.NATS_EXTERNAL_URL:
            self.stdout.write(f"using the NATS server at {settings.NATS_EXTERNAL_URL}; not starting one")
            self.stdout.flush()
            stopped = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stopped.set())
            stopped.wait()
            return
        store = settings.DATA_DIR / "nats"
        store.mkdir(parents=True, exist_ok=True)
        config = write_nats_config(
            settings.DATA_DIR / CONFIG_FILE_NAME, user=settings.NATS_USER, password=settings.NATS_PASSWORD
        )
        try:
            argv = nats_server_argv(port=settings.NATS_PORT, monitor_port=None, store_dir=store, config_file=config)
        except FileNotFoundError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"starting nats-server on {settings.NATS_URL} for user {settings.NATS_USER!r} (JetStream store {store})"
        )
        self.stdout.flush()
        # Replace this process: signals from supervisord reach nats-server directly, which shuts down cleanly.
        os.execv(argv[0], argv)  # noqa: S606 - argv is built here, no shell involved
