"""Ids from URLs and queries: ASCII digits that fit a 64-bit column.

``str.isdigit`` alone is not enough: it accepts ``"²"`` and other Unicode digits ``int`` refuses, and any length,
which overflows a BIGINT (an error from PostgreSQL, OverflowError from SQLite): both were 500s.
"""

from __future__ import annotations

MAX_ID_DIGITS = 18  # every 18-digit number is below 2**63


def is_id(text: str) -> bool:
    """Whether ``text`` is a whole number an id column can hold."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS
