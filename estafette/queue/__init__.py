"""Events on NATS JetStream: publish after commit through an outbox, consume with durable pull consumers.

Public names (imported lazily, so this package can be imported before the apps are ready)::

    from estafette.queue import publish_on_commit, consumer, Consumer, ReceivedEvent, PermanentError, subjects
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
