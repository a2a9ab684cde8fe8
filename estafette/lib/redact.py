"""Hide secret envelopes before text leaves the API."""

from __future__ import annotations

import re

# estafette.secret(<nonce>.<ciphertext>[.<allow-list>]) with base64 URL-encoded parts (ESTAFETTE.md §6).
SECRET_ENVELOPE = re.compile(r"estafette\.secret\([a-zA-Z0-9.=_-]+\)")
REDACTED = "***"


def redact_secrets(text: str) -> str:
    """Replace every ``estafette.secret(...)`` envelope by ``***``."""
    return SECRET_ENVELOPE.sub(REDACTED, text)
