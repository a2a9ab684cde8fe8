"""Events on NATS JetStream: publish after commit through an outbox, consume with durable pull consumers.

Public names (imported lazily, so this package can be imported before the apps are ready)::

    from estafette.queue import publish_on_commit, consumer, Consumer, ReceivedEvent, PermanentError, subjects
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from estafette.lib.env import env_str
from estafette.lib.natsauth import URL_VARIABLE

WEBSOCKET_SCHEMES = ("ws://", "wss://")


def _import_nats_without_websocket_transport() -> None:
    """Import nats-py with its optional WebSocket transport left out, unless the NATS URL is a WebSocket one.

    ``nats.aio.transport`` imports aiohttp (and multidict, yarl …) inside ``try: … except ImportError`` at module
    level: the transport for ``ws://``/``wss://`` servers is nats-py's optional extra (``nats-py[aiohttp]``) and the
    client works without it. aiohttp is installed here all the same (the kubernetes client requires it), so every
    process that imports nats would hold ~11 MB for a transport that ``nats://`` and ``tls://`` servers never use
    (issue 17: the web and worker processes of ``make run`` both do). A ``None`` entry in ``sys.modules`` makes that
    one import raise ``ImportError`` (Python's import system reference, "The module cache"), so nats-py takes its own
    documented path for a missing extra; the entry is removed again right after, so the kubernetes client (or anyone
    else) still imports aiohttp normally. nats-py has no setting for this, and uninstalling aiohttp is not an option.

    This runs when the package is first imported, before any module of it imports nats; with a ``ws://`` or
    ``wss://`` ``ESTAFETTE_NATS_URL`` it changes nothing. ``estafette/tests/test_idle_imports.py`` fails if an idle
    web or worker process imports aiohttp again.
    """
    if "nats" in sys.modules or "aiohttp" in sys.modules:
        return  # too late (or nothing to save): nats-py has already decided, or aiohttp is loaded anyway
    urls = [url.strip().lower() for url in env_str(URL_VARIABLE, "").split(",")]
    if any(url.startswith(WEBSOCKET_SCHEMES) for url in urls):
        return
    sys.modules["aiohttp"] = None  # type: ignore[assignment]
    try:
        import nats.aio.transport  # noqa: F401 - imported here, without aiohttp, for every later import of nats
    finally:
        if sys.modules.get("aiohttp", 0) is None:
            del sys.modules["aiohttp"]


_import_nats_without_websocket_transport()

if TYPE_CHECKING:
    from estafette.queue.consumer import Consumer, PermanentError, ReceivedEvent, consumer
    from estafette.queue.outbox import publish_on_commit

__all__ = ["Consumer", "PermanentError", "ReceivedEvent", "consumer", "publish_on_commit"]

_LAZY = {
    "Consumer": "estafette.queue.consumer",
    "PermanentError": "estafette.queue.consumer",
    "ReceivedEvent": "estafette.queue.consumer",
    "consumer": "estafette.queue.consumer",
    "publish_on_commit": "estafette.queue.outbox",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'estafette.queue' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)
