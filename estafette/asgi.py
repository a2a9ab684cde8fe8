import os

from django.core.asgi import get_asgi_application

from estafette.lib.datadir import restrict_umask

restrict_umask()  # before settings create the data dir: what the server writes is its own (0600/0700)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "estafette.settings")
application = get_asgi_application()
