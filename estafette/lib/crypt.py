"""The server's side of secret envelopes (ESTAFETTE.md §6): make them, vet a manifest's, re-key them for a job.

The installation key (``ESTAFETTE_SECRET_DECRYPTION_KEY``) stays in the API and its workers: a job
receives its configuration with every envelope re-encrypted under a fresh key of its own, allow-lists
kept, so a leaked job key opens that job's secrets and nothing else. Nothing here logs or raises
with a secret's value.
"""

from __future__ import annotations

import re

from builder.secrets import (
    ENVELOPE_PATTERN,
    SecretError,
    encrypt,
    generate_key,
    is_allowed,
    open_envelope,
    parse_key,
)


def installation_key() -> bytes:
    """The key every ``estafette.secret(...)`` this server made is encrypted with."""
    from django.conf import settings

    return parse_key(settings.SECRET_DECRYPTION_KEY)


def secret_encrypt(*, value: str, allow_list: str = "") -> str:
    """A new envelope of ``value`` for pipelines matching ``allow_list`` (empty or ``.*``: any pipeline).

    Raises ``SecretError`` for an allow-list that is not a valid regular expression.
    """
    return encrypt(value, key=installation_key(), allow_list=allow_list)


def restricted_secrets(text: str, *, pipeline: str) -> list[str]:
    """The envelopes in ``text`` that open with the installation key but are restricted to other pipelines.

    The build of such a manifest fails up front with a ``validate-secrets`` step (Estafette's rule).
    Envelopes this installation cannot open at all are not listed: they were made elsewhere, the job
    receives them unchanged and cannot open them either.
    """
    key = installation_key()
    refused: list[str] = []
    for match in ENVELOPE_PATTERN.finditer(text):
        envelope = match.group(0)
        try:
            _, allow_list = open_envelope(envelope, key=key)
        except SecretError:
            continue
        if not is_allowed(allow_list, pipeline) and envelope not in refused:
            refused.append(envelope)
    return refused


def reencrypt_for_job(text: str) -> tuple[str, str]:
    """``(text, job_key)``: every envelope the installation key opens re-encrypted under a fresh job key.

    Each envelope keeps its allow-list. ``job_key`` is the base64 text form the builder reads.
    Envelopes the installation key cannot open stay as they are (they hold nothing this server knows).
    """
    job_key = generate_key()
    key, new_key = installation_key(), parse_key(job_key)
    opened: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        envelope = match.group(0)
        if envelope not in opened:
            try:
                plaintext, allow_list = open_envelope(envelope, key=key)
            except SecretError:
                opened[envelope] = envelope
            else:
                opened[envelope] = encrypt(plaintext, key=new_key, allow_list=allow_list)
        return opened[envelope]

    return ENVELOPE_PATTERN.sub(replace, text), job_key


def secret_allow_lists(text: str) -> list[str]:
    """The allow-list of each distinct envelope in ``text`` that the installation key opens (in order); envelopes
    it cannot open are left out. Only the allow-lists leave this function, never a value."""
    key = installation_key()
    seen: set[str] = set()
    allow_lists: list[str] = []
    for match in ENVELOPE_PATTERN.finditer(text):
        envelope = match.group(0)
        if envelope in seen:
            continue
        seen.add(envelope)
        try:
            _, allow_list = open_envelope(envelope, key=key)
        except SecretError:
            continue
        allow_lists.append(allow_list)
    return allow_lists
