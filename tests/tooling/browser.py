"""Headless Chromium for end-to-end tests, without Playwright downloading a browser.

Uses Debian's ``/usr/bin/chromium`` (installed by scripts/system-deps.sh) with a fresh profile per
test, and the flags that keep it from reaching out to the network this machine does not have.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if not found:
        raise RuntimeError("Chromium not found: run `apt-get install -y chromium` (scripts/system-deps.sh does)")
    return found


@contextmanager
def browser_context(*, viewport: dict[str, int] | None = None) -> Iterator[Any]:
    """A Playwright browser context on a throw-away profile; closed and removed afterwards."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="estafette-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=chromium_path(),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport=viewport or {"width": 1280, "height": 800},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
