"""A real OpenID Connect provider for the login tests: the npm package ``oidc-provider`` (OpenID certified), run by
Node.js from ``tests/tooling/oidc/`` on a free port. Its packages are installed from the lock file on first use
(``npm ci``); without Node.js 20.19+ the tests that need it fail with what to install."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from builder.testing import reserve_port
from tests.tooling.waiting import wait_until

HERE = Path(__file__).parent / "oidc"


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str


def install() -> None:
    stamp = HERE / "node_modules" / ".installed-from-lock"
    if stamp.exists() and stamp.stat().st_mtime >= (HERE / "package-lock.json").stat().st_mtime:
        return
    if shutil.which("npm") is None:
        raise RuntimeError("the OpenID Connect provider of the tests needs Node.js 20.19+ and npm (see README)")
    print("oidc: npm ci in tests/tooling/oidc (installing oidc-provider from the lock file)…", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    stamp.touch()


@contextmanager
def oidc_provider(*, redirect_uris: list[str], log: Path) -> Iterator[OidcProvider]:
    install()
    port = reserve_port()
    client = OidcProvider(
        issuer=f"http://127.0.0.1:{port}", client_id="estafette", client_secret="test-secret-" + "x" * 32
    )
    env = {
        **os.environ,
        "PORT": str(port),
        "CLIENT_ID": client.client_id,
        "CLIENT_SECRET": client.client_secret,
        "REDIRECT_URIS": " ".join(redirect_uris),
        "NODE_ENV": "test",
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        process = subprocess.Popen(["node", "server.mjs"], cwd=HERE, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_until(
                lambda: "ready" in log.read_text() or process.poll() is not None,
                timeout=30,
                what="the OpenID Connect provider to listen",
            )
            if process.poll() is not None:
                raise RuntimeError(f"the OpenID Connect provider exited: {log.read_text()[-2000:]}")
            yield client
        finally:
            process.terminate()
            process.wait(timeout=10)
