"""A relay process that stops dead between publishing and marking, for the crash test.

``python -m estafette.queue.tests.crashing_relay SIGNAL_FILE BATCH_SIZE`` relays like ``relay_outbox``
but, before marking its first batch sent, writes SIGNAL_FILE and sleeps, so the test can SIGKILL it
at exactly that point.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import django


def main() -> None:
    signal_file = Path(sys.argv[1])
    batch_size = int(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "estafette.settings")
    django.setup()

    from estafette.queue import outbox
    from estafette.queue.jetstream import QueueSettings

    real_mark_sent = outbox.mark_sent

    def mark_sent_then_hang(*, token: str, ids: list[int]) -> int:
        if ids:
            signal_file.write_text(",".join(map(str, ids)))
            time.sleep(3600)
        return real_mark_sent(token=token, ids=ids)

    outbox.mark_sent = mark_sent_then_hang  # type: ignore[assignment]
    outbox.relay_pending(QueueSettings.from_django(), batch_size=batch_size)


if __name__ == "__main__":
    main()
