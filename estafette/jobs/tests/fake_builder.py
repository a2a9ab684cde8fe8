"""A stand-in for ``python -m builder job --config FILE`` in the local runner's tests.

It records what it received next to its configuration (``received-config.json``, ``received-key``,
``environment.json``), writes ``started``, then waits for a ``release`` file holding its exit code.
On SIGTERM it writes ``got-sigterm`` and exits 0 (as the builder does after reporting ``canceled``),
unless its configuration says ``{"testIgnoreSigterm": true}``. With ``{"testSpawnChild": true}`` it
starts a ``sleep`` child first and writes its pid to ``child-pid``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    config_path = Path(sys.argv[1])
    workspace = config_path.parent
    config = json.loads(config_path.read_text())
    (workspace / "received-config.json").write_text(config_path.read_text())
    (workspace / "received-key").write_text(Path(os.environ["ESTAFETTE_BUILDER_SECRET_KEY_FILE"]).read_text())
    (workspace / "environment.json").write_text(json.dumps(dict(os.environ)))
    if config.get("testIgnoreSigterm"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: ((workspace / "got-sigterm").write_text("1"), sys.exit(0)))
    if config.get("testSpawnChild"):
        child = subprocess.Popen(["sleep", "600"])
        (workspace / "child-pid").write_text(str(child.pid))
    (workspace / "started").write_text(str(os.getpid()))
    release = workspace / "release"
    while not release.exists():
        time.sleep(0.01)
    sys.exit(int(release.read_text() or "0"))


if __name__ == "__main__":
    main()
