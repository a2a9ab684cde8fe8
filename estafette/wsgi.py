import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

from estafette.lib.datadir import restrict_umask

restrict_umask()  # before settings create the data dir: what the server writes is its own (0600/0700)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "estafette.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402


class LeanWSGIHandler(WSGIHandler):
    """Django's WSGI handler with the middleware of ``settings.BUILDER_MIDDLEWARE`` instead of ``MIDDLEWARE``.

    Written out rather than configured: Django builds its one chain from ``settings.MIDDLEWARE`` only. This is
    ``BaseHandler.load_middleware`` for synchronous middleware (every one of the list is), without the async
    adaptation; the same hooks (``process_view``, ``process_exception``…) are collected.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)
        for middleware_path in reversed(settings.BUILDER_MIDDLEWARE):
            instance = import_string(middleware_path)(handler)
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


builder_application = LeanWSGIHandler()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The builder's reports on the lean path (``settings.BUILDER_MIDDLEWARE``), every other request on Django's."""
    if environ.get("PATH_INFO", "").startswith(settings.BUILDER_PATH_PREFIX):
        return builder_application(environ, start_response)
    return django_application(environ, start_response)


# Publish this worker's events right after commit instead of waiting for the relay_outbox poll.
if settings.OUTBOX_RELAY_IN_PROCESS:
    from estafette.queue.outbox import start_relay_in_process

    start_relay_in_process()
