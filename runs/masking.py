"""Masking log lines in the API as well as in the builder (ESTAFETTE.md §5.7: "logs are masked in the builder and
again in the API").

The API holds the installation key (``settings.SECRET_DECRYPTION_KEY``), so it can open every secret envelope of the
run's manifest and of the server's credentials and mask their values, in case a builder (an old or a modified one)
let one through. Secrets a stage computes at run time are unknown here; the builder masks what it can. The log store
masks each line's text with it as it stores a batch (``runs.logs.log_entries``).
"""

from __future__ import annotations

import functools
import json

from django.conf import settings

from builder.secrets import Masker, SecretError, find_envelopes, open_envelope, parse_key
from runs.models import Run
from runs.registry import run_kind


def run_masker(run: Run) -> Masker | None:
    """The masker for ``run``'s logs, or None when the API knows no secret of it."""
    manifest = run_kind(run.kind).secrets_manifest(run)
    credentials = json.dumps(settings.CREDENTIALS, default=str, sort_keys=True)
    return _masker_for(manifest + "\n" + credentials, settings.SECRET_DECRYPTION_KEY)


@functools.lru_cache(maxsize=256)
def _masker_for(text: str, key_text: str) -> Masker | None:
    # Cached per process by content: a run's batches arrive one after another, each would open the same envelopes.
    try:
        key = parse_key(key_text)
    except SecretError:
        return None
    values = []
    for envelope in dict.fromkeys(find_envelopes(text)):
        try:
            values.append(open_envelope(envelope, key=key)[0])
        except SecretError:
            continue  # sealed with another key: the builder could not have read it either
    masker = Masker(values)
    return masker if masker else None
