"""A NATS client written with the standard library only, as a build's stage could write it in a few lines: it speaks
NATS's text protocol (``CONNECT``, ``PUB``, ``SUB``, ``PING``) to a port and returns what the server answered.

The security tests use it in-process, and copy this file into a repository so that a stage runs it
(``python3 nats_attacker.py PORT SUBJECT PAYLOAD_FILE``): it must not import anything but the standard library.
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any


def exchange(
    port: int, commands: str, *, until: bytes = b"PONG\r\n", host: str = "127.0.0.1", timeout: float = 5.0
) -> str:
    """Read the server's ``INFO``, send ``commands``, and return all the server said after it until ``until`` (a
    ``PONG`` by default), an ``-ERR`` or the end of the connection."""
    info = received = b""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        while b"\r\n" not in info:
            chunk = connection.recv(65536)
            if not chunk:
                return info.decode(errors="replace")
            info += chunk
        info, _, received = info.partition(b"\r\n")
        connection.sendall(commands.encode())
        while until not in received and b"-ERR" not in received:
            try:
                chunk = connection.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
    return received.decode(errors="replace")


def connect_line(**credentials: Any) -> str:
    return f"CONNECT {json.dumps({'verbose': False, 'pedantic': False, 'headers': True, **credentials})}\r\n"


def publish(port: int, subject: str, payload: bytes, *, connect: str | None) -> str:
    """``PUB`` after ``connect`` (a CONNECT line, or None to send none), then ``PING``: ``PONG`` means it was taken."""
    return exchange(port, f"{connect or ''}PUB {subject} {len(payload)}\r\n{payload.decode()}\r\nPING\r\n")


def read_stream_info(port: int, stream: str, *, connect: str | None) -> str:
    """Ask the JetStream API for a stream's state, as ``nats stream info`` does: the answer arrives as a ``MSG``
    (its JSON ends with ``}`` and the line end), some time after the ``PONG``."""
    inbox = "_INBOX.attacker"
    return exchange(
        port,
        f"{connect or ''}SUB {inbox} 1\r\nPUB $JS.API.STREAM.INFO.{stream} {inbox} 0\r\n\r\nPING\r\n",
        until=b"}\r\n",
    )


if __name__ == "__main__":
    port, subject, payload_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(payload_file, "rb") as handle:
        payload = handle.read().strip()
    try:
        answer = publish(port, subject, payload, connect=connect_line())
    except OSError as error:
        answer = f"no connection: {error}"
    print("NATS answered: " + answer.replace("\r\n", " | ")[-300:])
