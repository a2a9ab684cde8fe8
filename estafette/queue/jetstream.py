"""The one seam to NATS JetStream (nats-py): connecting, the stream, durable pull consumers.

Everything else in the queue calls these functions, so settings are read in one place and tests
can point a single ``QueueSettings`` at a throw-away nats-server. Every connection authenticates
(``connect``); the credentials stay out of reprs, log lines and exception text.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from dataclasses import dataclass, field, replace
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType
from nats.js.errors import NotFoundError

from estafette.lib.natsauth import split_credentials
from estafette.queue import subjects

logger = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"


@dataclass(frozen=True)
class QueueSettings:
    """Where the queue lives, who we are to it, and how the stream and consumers are configured.

    ``url`` never keeps credentials: ``user:password@`` in it moves into ``user`` and ``password`` (so the URL can be
    logged). The password is left out of the repr.
    """

    url: str
    user: str = ""
    password: str = field(default="", repr=False)
    stream: str = "ESTAFETTE"
    stream_max_age_seconds: float = 7 * 24 * 3600
    duplicate_window_seconds: float = 600
    ack_wait_seconds: float = 60
    max_deliver: int = 5
    consumer_lookback_seconds: float = 3600
    outbox_poll_interval_seconds: float = 0.05
    outbox_lease_seconds: float = 30
    outbox_retention_seconds: float = 24 * 3600

    def __post_init__(self) -> None:
        url, user, password = split_credentials(self.url)
        if user:
            if self.user or self.password:
                raise ValueError("NATS credentials given both in the URL and as user/password")
            # A frozen dataclass: set once, here, before anyone can see the instance.
            object.__setattr__(self, "url", url)
            object.__setattr__(self, "user", user)
            object.__setattr__(self, "password", password)

    @classmethod
    def from_django(cls, **overrides: Any) -> QueueSettings:
        from django.conf import settings

        configured = cls(
            url=settings.NATS_URL,
            user=settings.NATS_USER,
            password=settings.NATS_PASSWORD,
            stream=settings.NATS_STREAM,
            stream_max_age_seconds=settings.NATS_STREAM_MAX_AGE_SECONDS,
            duplicate_window_seconds=settings.NATS_DUPLICATE_WINDOW_SECONDS,
            ack_wait_seconds=settings.NATS_ACK_WAIT_SECONDS,
            max_deliver=settings.NATS_MAX_DELIVER,
            consumer_lookback_seconds=settings.NATS_CONSUMER_LOOKBACK_SECONDS,
            outbox_poll_interval_seconds=settings.OUTBOX_POLL_INTERVAL_MS / 1000,
            outbox_lease_seconds=settings.OUTBOX_LEASE_SECONDS,
            outbox_retention_seconds=settings.OUTBOX_RETENTION_SECONDS,
        )
        return replace(configured, **overrides)


def auth_options(queue: QueueSettings) -> dict[str, Any]:
    """nats-py's ``connect`` arguments that log in as ``queue``'s user (none when it has no credentials)."""
    return {"user": queue.user, "password": queue.password} if queue.user else {}


async def connect(queue: QueueSettings, *, name: str, wait_seconds: float | None = None) -> NatsClient:
    """Connect and log in, waiting for the server to come up (for ever when ``wait_seconds`` is None).

    The client reconnects for ever: a restarted nats-server must not end a worker. Publishes made
    while disconnected wait in the client's buffer or time out (the outbox relay then retries them);
    pull requests resume once the connection is back. Refused credentials are retried too (they may
    be rotated on the server first) and said so in the log. Raises ``ConnectionError`` after ``wait_seconds``.
    """
    loop = asyncio.get_running_loop()
    url = queue.url
    last_logged = -1e9
    connected: list[NatsClient] = []
    refused = False  # an attempt's CONNECT was turned down (the closed connection then fails in other words too)

    async def on_disconnected() -> None:
        if connected and (connected[0].is_closed or connected[0].is_draining):
            return  # our own close, not an outage
        logger.warning("%s: disconnected from NATS at %s, reconnecting", name, url)

    async def on_reconnected() -> None:
        logger.info("%s: reconnected to NATS at %s", name, url)

    async def on_error(error: Exception) -> None:
        # While the server is down every reconnect attempt (4 a second) fails: say so every 10 s.
        nonlocal last_logged, refused
        turned_down = _is_authorization_error(error)
        refused = refused or turned_down
        if loop.time() - last_logged >= 10:
            last_logged = loop.time()
            if turned_down:
                logger.warning("%s: NATS at %s refused %s", name, url, _whom(queue))
            else:
                logger.warning("%s: NATS at %s: %s", name, url, str(error) or type(error).__name__)

    connecting = nats.connect(
        url,
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,  # also makes the first connect wait for the server
        reconnect_time_wait=0.25,
        connect_timeout=2,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
        error_cb=on_error,
        **auth_options(queue),
    )
    try:
        nc = await (connecting if wait_seconds is None else asyncio.wait_for(connecting, wait_seconds))
    except TimeoutError:
        if refused:
            raise ConnectionError(f"NATS at {url} refused {_whom(queue)}") from None
        raise ConnectionError(
            f"cannot reach NATS at {url} within {wait_seconds:g}s: start it (make run does) or set ESTAFETTE_NATS_URL"
        ) from None
    connected.append(nc)
    return nc


def _is_authorization_error(error: Exception) -> bool:
    # nats-py raises a plain Error with the server's text when CONNECT is refused, AuthorizationError later on.
    return isinstance(error, nats.errors.AuthorizationError) or "authorization violation" in str(error).lower()


def _whom(queue: QueueSettings) -> str:
    """Who we tried to log in as, for messages: the user name and where its password comes from, never the password."""
    if not queue.user:
        return "a client without credentials: set ESTAFETTE_NATS_USER and ESTAFETTE_NATS_PASSWORD"
    return (
        f"user {queue.user!r}: check ESTAFETTE_NATS_USER and ESTAFETTE_NATS_PASSWORD (or the data dir's nats-password)"
    )


async def connect_until_stopped(queue: QueueSettings, *, name: str, stop: asyncio.Event) -> NatsClient | None:
    """``connect`` for long-running workers: waits for the server, but gives up (None) once ``stop`` is set."""
    connecting = asyncio.ensure_future(connect(queue, name=name))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if connecting.done():
        return connecting.result()
    connecting.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await connecting
    return None


async def wait_for_stream(js: JetStreamContext, queue: QueueSettings, *, name: str, stop: asyncio.Event) -> bool:
    """``ensure_stream``, retried while JetStream is starting or restarting. False if stopped first."""
    attempt = 0
    while not stop.is_set():
        try:
            await ensure_stream(js, queue)
            return True
        except Exception as error:  # noqa: BLE001 - not ready yet: wait, do not crash the worker
            attempt += 1
            if attempt == 1 or attempt % 20 == 0:
                logger.warning("%s: JetStream not ready (%s: %s); waiting", name, type(error).__name__, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(0.1 * attempt, 2.0))
    return False


async def close_quietly(nc: NatsClient) -> None:
    """Drain and close, whatever state the connection is in (the server may be shutting down too)."""
    try:
        await nc.drain()
    except Exception:  # reconnecting or already closed: nothing left to flush
        logger.debug("drain failed; closing", exc_info=True)
    if not nc.is_closed:
        with contextlib.suppress(Exception):
            await nc.close()


async def ensure_stream(js: JetStreamContext, queue: QueueSettings) -> None:
    """Create the events stream, or bring an existing one to the configured limits. Idempotent."""
    config: dict[str, Any] = {
        "name": queue.stream,
        "subjects": list(subjects.STREAM_SUBJECTS),
        "retention": RetentionPolicy.LIMITS,
        "storage": StorageType.FILE,
        "discard": DiscardPolicy.OLD,
        "max_age": float(queue.stream_max_age_seconds),
        "duplicate_window": float(queue.duplicate_window_seconds),
    }
    try:
        await js.stream_info(queue.stream)
    except NotFoundError:
        await js.add_stream(**config)
        logger.info("created JetStream stream %s for %s", queue.stream, ", ".join(subjects.STREAM_SUBJECTS))
        return
    await js.update_stream(**config)


def consumer_config(
    *, durable: str, subject: str, ack_wait_seconds: float, max_deliver: int, start_time: datetime.datetime | None
) -> ConsumerConfig:
    """A durable pull consumer with explicit acks.

    A new consumer starts at ``start_time`` (the lookback before its creation) rather than at the
    beginning of the stream: events published while it was being deployed are still delivered, but
    a consumer added months later does not replay a week of old events.
    """
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        filter_subject=subject,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=float(ack_wait_seconds),
        # One more than the handler's budget: the handler terminates on its last delivery and records
        # a dead letter, so the server's own give-up (which records nothing) is never reached.
        max_deliver=max_deliver + 1,
        deliver_policy=DeliverPolicy.BY_START_TIME if start_time else DeliverPolicy.ALL,
        opt_start_time=start_time,
        max_ack_pending=1000,
    )


async def ensure_consumer(
    js: JetStreamContext, queue: QueueSettings, *, durable: str, subject: str, ack_wait_seconds: float, max_deliver: int
) -> None:
    """Create the durable consumer, or update its ack wait and max deliveries. Idempotent.

    The start position of an existing consumer is kept: JetStream refuses to change it.
    """
    try:
        info = await js.consumer_info(queue.stream, durable)
    except NotFoundError:
        start_time = None
        if queue.consumer_lookback_seconds > 0:
            start_time = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
                seconds=queue.consumer_lookback_seconds
            )
        config = consumer_config(
            durable=durable,
            subject=subject,
            ack_wait_seconds=ack_wait_seconds,
            max_deliver=max_deliver,
            start_time=start_time,
        )
        await js.add_consumer(queue.stream, config=config)
        logger.info("created durable consumer %s on %s", durable, subject)
        return
    existing = info.config
    wanted = consumer_config(
        durable=durable,
        subject=subject,
        ack_wait_seconds=ack_wait_seconds,
        max_deliver=max_deliver,
        start_time=existing.opt_start_time,
    )
    wanted.deliver_policy = existing.deliver_policy
    if (existing.ack_wait, existing.max_deliver, existing.filter_subject) != (
        wanted.ack_wait,
        wanted.max_deliver,
        wanted.filter_subject,
    ):
        await js.add_consumer(queue.stream, config=wanted)
        logger.info("updated durable consumer %s", durable)
