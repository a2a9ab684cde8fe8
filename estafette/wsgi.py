import os

from django.core.wsgi import get_wsgi_application

from estafette.lib.datadir import restrict_umask

restrict_umask()  # before settings create the data dir: what the server writes is its own (0600/0700)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "estafette.settings")
application = get_wsgi_application()

# Publish this worker's events right after commit instead of waiting for the relay_outbox poll.
from django.conf import settings  # noqa: E402

if settings.OUTBOX_RELAY_IN_PROCESS:
    from estafette.queue.outbox import start_relay_in_process

    start_relay_in_process()
