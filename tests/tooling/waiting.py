"""Waiting for something that happens in another thread or process, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 20, interval: float = 0.02, what: str | Callable[[], str] = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout`` seconds. ``what`` may be
    a callable, read only when the wait fails, for a description that must show the state at that moment (a log)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            description = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout}s waiting for {description or condition}")
        time.sleep(interval)
