"""NATS admits only the installation's own processes.

The attack (issue 10): a stage shares the host network, connected to the server's NATS port and published a forged
``estafette.events.git``, which the consumer acted on. Now nats-server admits one user whose password the server's
processes have and a build's job does not (``estafette.jobs.local`` passes no ``ESTAFETTE_*`` variable but the
builder's own), and the password appears on no command line and in no log.

Each attack is paired with the same request made with the installation's credentials, which succeeds: the refusal is
the credentials', not a broken probe.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from builder.testing import reserve_port
from estafette.queue import jetstream
from estafette.queue.jetstream import QueueSettings
from tests.harness.asserts import printed, steps_of
from tests.harness.system import System
from tests.security import nats_attacker
from tests.security.nats_attacker import connect_line, publish, read_stream_info
from tests.tooling.nats import NatsServer, stream_messages
from tests.tooling.waiting import wait_until

pytestmark = pytest.mark.nats

REFUSED = "-ERR 'Authorization Violation'"

STAGE_ATTACK = """\
stages:
  attack:
    image: alpine:3.20
    commands:
    - env | sort
    - python3 nats_attacker.py {port} estafette.events.git forged.json
"""

HARMLESS = """\
stages:
  build:
    image: alpine:3.20
    commands:
    - echo built
"""


def forged_push(repository: Path, revision: str) -> bytes:
    """What the web intake publishes for a verified push (integrations.git.webhook.PushEvent.to_dict)."""
    return json.dumps({"event": "push", "repository": str(repository), "branch": "main", "revision": revision}).encode()


def make_stream(queue: QueueSettings) -> None:
    async def body() -> None:
        nc = await jetstream.connect(queue, name="test", wait_seconds=10)
        try:
            await jetstream.ensure_stream(nc.jetstream(), queue)
        finally:
            await nc.close()

    asyncio.run(body())


def port_of(queue: QueueSettings) -> int:
    return int(queue.url.rsplit(":", 1)[1])


def pushes_in_stream(queue: QueueSettings) -> list[str]:
    return [message["data"]["repository"] for message in stream_messages(queue, "estafette.events.git")]


# -- the server refuses every client without the credentials ----------------------------------------------------------


def test_a_client_without_the_credentials_cannot_publish_subscribe_or_read_the_stream(
    queue_settings: QueueSettings, tmp_path: Path
) -> None:
    # given the server with its stream and one event in it, published by the installation
    port = port_of(queue_settings)
    make_stream(queue_settings)
    own = connect_line(user=queue_settings.user, **{"pass": queue_settings.password})
    assert publish(port, "estafette.events.git", forged_push(tmp_path / "own", "1" * 40), connect=own).endswith(
        "PONG\r\n"
    )
    assert '"messages":1,' in read_stream_info(port, queue_settings.stream, connect=own)

    # when clients without the credentials try
    attempts = {
        "no CONNECT at all": None,
        "anonymous": connect_line(),
        "wrong password": connect_line(user=queue_settings.user, **{"pass": "guessed"}),
        "another user": connect_line(user="admin", **{"pass": queue_settings.password}),
        "token": connect_line(auth_token=queue_settings.password),
    }
    for attempt, connect in attempts.items():
        published = publish(port, "estafette.events.git", forged_push(tmp_path / "forged", "3" * 40), connect=connect)
        read = read_stream_info(port, queue_settings.stream, connect=connect)

        # then each is refused before anything is taken or answered
        assert REFUSED in published and "PONG" not in published, (attempt, published)
        assert REFUSED in read and "MSG " not in read, (attempt, read)

    # and the stream holds only the installation's event
    assert pushes_in_stream(queue_settings) == [str(tmp_path / "own")]


def test_a_forged_push_published_without_credentials_never_builds(
    system: System, queue_settings: QueueSettings
) -> None:
    # given two repositories the server could build
    victim = system.repository("acme", "victim", HARMLESS)
    control = system.repository("acme", "control", HARMLESS)
    port = port_of(queue_settings)

    # when an attacker publishes a push of one without credentials
    answer = publish(port, "estafette.events.git", forged_push(victim.path, victim.head()), connect=connect_line())
    # and, after it, the same push of the other is published with the installation's credentials
    own = connect_line(user=queue_settings.user, **{"pass": queue_settings.password})
    assert publish(port, "estafette.events.git", forged_push(control.path, control.head()), connect=own).endswith(
        "PONG\r\n"
    )

    # then the forged one was refused and never reached the stream, while the other built
    assert REFUSED in answer
    system.wait_until_final(
        f"/pipelines/local/acme/control/builds/{system.wait_for_build('local/acme/control')['id']}", "buildStatus"
    )
    assert pushes_in_stream(queue_settings) == [str(control.path)]
    assert system.builds("local/acme/victim") == []


def test_a_stage_has_no_credentials_and_cannot_publish_to_nats(system: System, queue_settings: QueueSettings) -> None:
    # given a pipeline whose stage prints its environment and publishes a forged push of another repository
    victim = system.repository("acme", "victim", HARMLESS)
    marker = uuid.uuid4().hex
    attacker = system.repository(
        "acme",
        "attacker",
        STAGE_ATTACK.format(port=port_of(queue_settings)),
        **{
            "nats_attacker.py": Path(nats_attacker.__file__).read_text(),
            "forged.json": forged_push(victim.path, victim.head()).decode() + "\n",
            "marker.txt": marker,
        },
    )

    # when it is built
    system.push(attacker)
    build = system.wait_for_build("local/acme/attacker")
    path = f"/pipelines/local/acme/attacker/builds/{build['id']}"
    system.wait_until_final(path, "buildStatus")

    # then the stage ran, saw none of the server's NATS settings, and its publish was refused (or never connected)
    lines = printed(steps_of(system.api.get(f"{path}/logs"))["attack"])
    assert any(line.startswith("PATH=") for line in lines), lines
    assert not [line for line in lines if line.startswith("ESTAFETTE_NATS") or queue_settings.password in line]
    (answer,) = [line for line in lines if line.startswith("NATS answered: ")]
    assert "PONG" not in answer and (REFUSED in answer or "no connection" in answer), answer
    # and nothing reached the stream: the victim is never built
    assert str(victim.path) not in pushes_in_stream(queue_settings)
    assert system.builds("local/acme/victim") == []


def test_the_password_is_in_no_log_and_on_no_command_line(
    system: System, queue_settings: QueueSettings, nats_server: NatsServer
) -> None:
    # given the system has built something (every process connected, the job ran)
    repository = system.repository("acme", "app", HARMLESS)
    system.push(repository)
    build = system.wait_for_build("local/acme/app")
    system.wait_until_final(f"/pipelines/local/acme/app/builds/{build['id']}", "buildStatus")

    # then the password is in none of the processes' output, nor any job's log
    password = queue_settings.password
    assert password not in system.processes.log()
    assert password not in system.processes.job_logs()
    assert password not in nats_server.log_path.read_text(errors="replace")
    # nor on the command line of any process (nats-server's included), which every local user can read
    assert nats_server.process is not None
    assert password.encode() not in Path(f"/proc/{nats_server.process.pid}/cmdline").read_bytes()
    assert not [pid for pid, command in command_lines() if password.encode() in command]


# -- make run's own nats-server (manage.py run_nats) -----------------------------------------------------------------


def test_make_runs_nats_server_admits_only_the_password_it_generated(tmp_path: Path) -> None:
    # given `manage.py run_nats` as the Procfile starts it, on a fresh data dir
    data_dir = tmp_path / "data"
    port = reserve_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ESTAFETTE_", "DJANGO_"))}
    env.update(ESTAFETTE_DATA_DIR=str(data_dir), ESTAFETTE_NATS_PORT=str(port))
    with open(tmp_path / "run_nats.log", "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "run_nats"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: accepts(port) or server.poll() is not None, timeout=60, what="nats-server to listen")
        assert server.poll() is None, (tmp_path / "run_nats.log").read_text()

        # then the password was generated into the data dir, for the owner only, and the server's config holds a hash
        password_file, config_file = data_dir / "nats-password", data_dir / "nats-server.conf"
        password = password_file.read_text().strip()
        assert len(password) >= 40
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
        assert password not in config_file.read_text()
        # and a client with it is let in, a client without it is not
        own = connect_line(user="estafette", **{"pass": password})
        assert publish(port, "estafette.events.git", b"{}", connect=own).endswith("PONG\r\n")
        assert REFUSED in publish(port, "estafette.events.git", b"{}", connect=connect_line())
        # and the password is neither on nats-server's command line nor in its output
        assert password.encode() not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert password not in (tmp_path / "run_nats.log").read_text()
        # and it listens on the client port only, on loopback: no monitoring port, which would answer anyone
        assert listening_sockets(server.pid) == {("127.0.0.1", port)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


# -- helpers ----------------------------------------------------------------------------------------------------------


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def command_lines() -> list[tuple[int, bytes]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((int(entry.name), (entry / "cmdline").read_bytes()))
            except OSError:
                continue
    return found


def listening_sockets(pid: int) -> set[tuple[str, int]]:
    """The TCP (v4 and v6) sockets the process listens on, as (address, port)."""
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(descriptor)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    listening = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                listening.add((_address(address, width), int(port, 16)))
    return listening


def _address(hex_address: str, width: int) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc/net/tcp prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if width == 8 else socket.AF_INET6, words)
