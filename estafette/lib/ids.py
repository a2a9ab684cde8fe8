"""Ids from URLs and queries: ASCII digits that fit a 64-bit column.

``str.isdigit`` alone is not enough: it accepts ``"²"`` and other Unicode digits ``int`` refuses, and any length,
which overflows a BIGINT (an error from PostgreSQL, OverflowError from SQLite): both were 500s.
"""

from __future__ import annotations

# 2**63 - 1 has 19 digits, and CockroachDB's ids (``unique_rowid()``, an Estafette database's ids, kept by
# ``manage.py import_estafette``) have 19 digits since 2022: the length bounds the work, the value the column.
MAX_ID_DIGITS = 19
MAX_ID = 2**63 - 1


def is_id(text: str) -> bool:
    """Whether ``text`` is a whole number an id column can hold."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS and int(text) <= MAX_ID
