"""The local nats-server admits only its user (estafette/queue/server.py), and every client logs in (jetstream.connect).

A real nats-server, started as ``manage.py run_nats`` starts it (the same config file), by ``tests.tooling.nats``.
"""

from __future__ import annotations

import asyncio
import logging
import stat
from dataclasses import replace
from pathlib import Path

import nats
import pytest

from estafette.queue import jetstream
from estafette.queue.jetstream import QueueSettings
from tests.tooling.nats import NatsServer

pytestmark = pytest.mark.nats


async def _publish_one(queue: QueueSettings) -> int:
    nc = await jetstream.connect(queue, name="test", wait_seconds=10)
    try:
        js = nc.jetstream()
        await jetstream.ensure_stream(js, queue)
        return (await js.publish("estafette.events.git", b"{}")).seq
    finally:
        await nc.close()


async def _anonymous_or_wrong_login(url: str, **credentials: str) -> Exception:
    try:
        nc = await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2, **credentials)
    except Exception as error:  # the refusal is what the test looks at
        return error
    await nc.close()
    raise AssertionError(f"the server let in {sorted(credentials) or 'an anonymous client'}")


@pytest.mark.parametrize(
    ("user", "password"),
    [
        ("estafette", "plain-token_urlsafe-0123456789"),
        ('us"er\\', 'p"a\\s$s #w{o}r:d\ttab\nline é😀\x01'),
    ],
    ids=["generated-like", "every-awkward-character"],
)
def test_it_admits_its_user_with_any_password_and_refuses_everyone_else(user: str, password: str) -> None:
    # given a server started as run_nats starts it
    server = NatsServer(user=user, password=password).start()
    try:
        queue = QueueSettings(url=server.url, user=user, password=password)

        # then its user publishes
        assert asyncio.run(_publish_one(queue)) == 1
        # and nobody else gets in
        for credentials in ({}, {"user": user, "password": "wrong"}, {"user": "other", "password": password}):
            refused = asyncio.run(_anonymous_or_wrong_login(server.url, **credentials))
            assert "authorization violation" in str(refused).lower()
        # and the config holds a bcrypt hash, readable by the owner only; the command line holds no secret
        config = server.config_file.read_text()
        assert 'password: "$2b$10$' in config and password not in config
        assert stat.S_IMODE(server.config_file.stat().st_mode) == 0o600
        assert server.process is not None
        assert password.encode() not in Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
    finally:
        server.close()


def test_a_refused_login_is_reported_without_the_password(
    queue_settings: QueueSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # given the right user with a wrong password
    wrong = replace(queue_settings, password="not-the-password-4711")
    caplog.set_level(logging.DEBUG)

    # when
    with pytest.raises(ConnectionError) as refused:
        asyncio.run(jetstream.connect(wrong, name="test", wait_seconds=1.5))

    # then it says what to check, and neither password appears anywhere
    assert "refused user 'estafette': check ESTAFETTE_NATS_USER and ESTAFETTE_NATS_PASSWORD" in str(refused.value)
    assert "refused user 'estafette'" in caplog.text
    for secret in (wrong.password, queue_settings.password):
        assert secret not in str(refused.value) and secret not in caplog.text


def test_queue_settings_keep_credentials_out_of_the_url_and_the_repr() -> None:
    queue = QueueSettings(url="nats://ci:p%40ss@nats.example:4222")

    assert (queue.url, queue.user, queue.password) == ("nats://nats.example:4222", "ci", "p@ss")
    assert "p@ss" not in repr(queue) and "p%40ss" not in repr(queue)
    assert replace(queue, stream="OTHER").password == "p@ss"
    with pytest.raises(ValueError, match="both in the URL and as user/password"):
        QueueSettings(url="nats://ci:x@nats.example:4222", user="ci", password="y")
