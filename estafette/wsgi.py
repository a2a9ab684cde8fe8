import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "estafette.settings")
application = get_wsgi_application()

# Publish this worker's events right after commit instead of waiting for the relay_outbox poll.
from django.conf import settings  # noqa: E402

if settings.OUTBOX_RELAY_IN_PROCESS:
    from estafette.queue.outbox import start_relay_in_process

    start_relay_in_process()
