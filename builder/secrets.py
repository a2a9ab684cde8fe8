"""Estafette secret envelopes (AES-GCM) and masking of secret values in output. Pure functions, no I/O.

Envelope formats, all inside ``estafette.secret(...)`` with parts in base64 URL-safe encoding with padding:

* **legacy** (Estafette's, 2 or 3 parts) ``nonce.ciphertext[.allowlist]``: the allow-list regex is encrypted with the
  *same* nonce as the value. Decrypted byte-compatibly with envelopes Estafette produced. Never produced here: the
  nonce reuse lets anyone who guesses the allow-list (usually the pipeline name) XOR the value's plaintext out
  without the key, and dropping the third part silently removes the restriction.
* **v2** (produced by :func:`encrypt`, 4 parts) ``nonce.ciphertext.allowNonce.allowCiphertext``: the value is
  authenticated together with its allow-list (AES-GCM associated data) and the allow-list has its own nonce, so
  nothing leaks and stripping or swapping the allow-list makes decryption fail.

An allow-list is a regular expression that must match the whole pipeline name ``source/owner/repo``; empty or ``.*``
means any pipeline. Estafette's fallback that also accepts ``github.com/<any owner>/<repo>`` is deliberately absent:
it would let a stranger's repository of the same name read the secret.

Keys: the raw bytes of a 16/24/32-character key (Estafette's installation key) or the standard base64 of 16/24/32 bytes
(per-job keys); :func:`parse_key` tells them apart by length.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from builder.manifest.regex import compile_go, pattern_error, search

ENVELOPE_PATTERN = re.compile(r"estafette\.secret\(([a-zA-Z0-9.=_-]+)\)")
RESTRICTED_MESSAGE = "This secret is restricted to another pipeline"
MASK = "***"
MIN_MASKED_LENGTH = 4  # values of 3 characters or fewer are too common to mask (Estafette's rule)

_NONCE_SIZE = 12
_KEY_SIZES = (16, 24, 32)
_V2_VALUE_AAD = b"estafette.secret/v2/value\x00"
_V2_ALLOWLIST_AAD = b"estafette.secret/v2/allowlist\x00"
_GLOBAL_ALLOW_LISTS = ("", ".*")


class SecretError(Exception):
    """An envelope cannot be opened: bad key, corrupt or malformed envelope. The message never holds secret bytes."""


class SecretRestrictedError(SecretError):
    """The envelope opened, but its allow-list does not match the pipeline."""

    def __init__(self) -> None:
        super().__init__(RESTRICTED_MESSAGE)


# --- keys -------------------------------------------------------------------------------------------------------------


def parse_key(text: str | bytes) -> bytes:
    """The AES key in ``text``: raw when 16/24/32 characters long, else standard base64 of 16/24/32 bytes.

    Surrounding whitespace (a trailing newline in a key file) is ignored. Raises :class:`SecretError`.
    """
    raw = text.encode() if isinstance(text, str) else bytes(text)
    raw = raw.strip()
    if len(raw) in _KEY_SIZES:
        return raw
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) in _KEY_SIZES:
        return decoded
    raise SecretError(
        f"the secret key must be 16, 24 or 32 characters, or the base64 encoding of 16, 24 or 32 bytes "
        f"(got {len(raw)} characters)"
    )


def generate_key() -> str:
    """A fresh random 32-byte key in its base64 text form (a per-job key, as stored in the job's Secret)."""
    return base64.b64encode(os.urandom(32)).decode()


def _aead(key: bytes) -> Any:
    # imported here: cryptography costs ~25 ms of start-up and most jobs have no secrets
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(key) not in _KEY_SIZES:
        raise SecretError("the secret key must be 16, 24 or 32 bytes")
    return AESGCM(key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part.encode())
    except (binascii.Error, ValueError) as error:
        raise SecretError("malformed secret envelope: a part is not base64") from error


def _inner(envelope: str) -> str:
    match = ENVELOPE_PATTERN.fullmatch(envelope.strip())
    return match.group(1) if match else envelope.strip()


# --- encrypt / decrypt ------------------------------------------------------------------------------------------------


def encrypt(plaintext: str, *, key: bytes, allow_list: str = "") -> str:
    """A v2 envelope ``estafette.secret(...)`` of ``plaintext``, restricted to pipelines matching ``allow_list``.

    Raises :class:`SecretError` for a bad key or an allow-list that is not a valid regular expression.
    """
    _check_allow_list(allow_list)
    aead = _aead(key)
    allow = allow_list.encode()
    nonce, allow_nonce = os.urandom(_NONCE_SIZE), os.urandom(_NONCE_SIZE)
    ciphertext = aead.encrypt(nonce, plaintext.encode(), _V2_VALUE_AAD + allow)
    allow_ciphertext = aead.encrypt(allow_nonce, allow, _V2_ALLOWLIST_AAD + nonce)
    return f"estafette.secret({_b64(nonce)}.{_b64(ciphertext)}.{_b64(allow_nonce)}.{_b64(allow_ciphertext)})"


def open_envelope(envelope: str, *, key: bytes) -> tuple[str, str]:
    """``(plaintext, allow_list)`` of an envelope (legacy or v2; with or without ``estafette.secret(...)``).

    Does not check the allow-list (see :func:`decrypt`). Raises :class:`SecretError`.
    """
    from cryptography.exceptions import InvalidTag

    parts = _inner(envelope).split(".")
    aead = _aead(key)
    try:
        if len(parts) in (2, 3):
            nonce = _unb64(parts[0])
            plaintext = aead.decrypt(nonce, _unb64(parts[1]), None)
            allow = aead.decrypt(nonce, _unb64(parts[2]), None) if len(parts) == 3 else b""
        elif len(parts) == 4:
            nonce, allow_nonce = _unb64(parts[0]), _unb64(parts[2])
            allow = aead.decrypt(allow_nonce, _unb64(parts[3]), _V2_ALLOWLIST_AAD + nonce)
            plaintext = aead.decrypt(nonce, _unb64(parts[1]), _V2_VALUE_AAD + allow)
        else:
            raise SecretError("malformed secret envelope: expected 2, 3 or 4 dot-separated parts")
    except InvalidTag as error:
        raise SecretError("cannot decrypt secret: wrong key, or the envelope was altered") from error
    except ValueError as error:  # e.g. a nonce of the wrong length
        raise SecretError("malformed secret envelope") from error
    try:
        return plaintext.decode(), allow.decode()
    except UnicodeDecodeError as error:
        raise SecretError("cannot decrypt secret: the value is not UTF-8 text") from error


def _check_allow_list(allow_list: str) -> str:
    """The allow-list anchored as it is evaluated; :class:`SecretError` if RE2 cannot compile it."""
    anchored = f"^(?:{allow_list})$"
    if pattern_error(anchored) is not None:
        raise SecretError("the secret's pipeline allow-list is not a valid regular expression")
    return anchored


def is_allowed(allow_list: str, pipeline: str) -> bool:
    """Whether ``pipeline`` (``source/owner/repo``) matches the whole allow-list regex, on RE2 (linear time).

    Anchored as one group, ``^(allow-list)$``: Estafette writes ``^allow-list$``, where an alternation such as
    ``a/b/c|a/b/d`` would also let any pipeline starting with ``a/b/c`` through. No owner-migration fallback.
    """
    if allow_list in _GLOBAL_ALLOW_LISTS:
        return True
    compiled = compile_go(_check_allow_list(allow_list))
    return compiled is not None and search(compiled, pipeline)


def decrypt(envelope: str, *, key: bytes, pipeline: str) -> str:
    """The plaintext of an envelope for ``pipeline``.

    Raises :class:`SecretRestrictedError` when its allow-list does not match, :class:`SecretError` when it cannot be
    opened.
    """
    plaintext, allow_list = open_envelope(envelope, key=key)
    if not is_allowed(allow_list, pipeline):
        raise SecretRestrictedError()
    return plaintext


def find_envelopes(text: str) -> list[str]:
    """Every ``estafette.secret(...)`` envelope in ``text``, in order, duplicates kept."""
    return [match.group(0) for match in ENVELOPE_PATTERN.finditer(text)]


def _replace_envelopes(text: str, replace: Callable[[str], str]) -> str:
    return ENVELOPE_PATTERN.sub(lambda match: replace(match.group(0)), text)


def decrypt_envelopes(text: str, *, key: bytes, pipeline: str) -> str:
    """``text`` with every envelope replaced by its plaintext. Raises like :func:`decrypt` on the first bad one."""
    return _replace_envelopes(text, lambda envelope: decrypt(envelope, key=key, pipeline=pipeline))


def decrypt_envelopes_leniently(text: str, *, key: bytes, pipeline: str) -> tuple[str, int]:
    """``text`` with every envelope that can be decrypted for ``pipeline`` replaced; others stay encrypted.

    Returns the text and how many envelopes stayed encrypted (Estafette warns and carries on for env values).
    """
    failures = 0

    def replace(envelope: str) -> str:
        nonlocal failures
        try:
            return decrypt(envelope, key=key, pipeline=pipeline)
        except SecretError:
            failures += 1
            return envelope

    return _replace_envelopes(text, replace), failures


def restricted_envelopes(text: str, *, key: bytes, pipeline: str) -> list[str]:
    """The envelopes in ``text`` that ``pipeline`` may not decrypt (restricted elsewhere, or unreadable).

    The API uses this to fail a build up front with a ``validate-secrets`` step listing them.
    """
    refused: list[str] = []
    for envelope in find_envelopes(text):
        try:
            decrypt(envelope, key=key, pipeline=pipeline)
        except SecretError:
            refused.append(envelope)
    return refused


def reencrypt_envelopes(text: str, *, key: bytes, new_key: bytes) -> str:
    """``text`` with every envelope re-encrypted under ``new_key`` as v2, keeping its allow-list.

    The API uses this to give each job its own key (the master key never reaches a job). Raises :class:`SecretError`
    when an envelope cannot be opened with ``key``.
    """

    def replace(envelope: str) -> str:
        plaintext, allow_list = open_envelope(envelope, key=key)
        return encrypt(plaintext, key=new_key, allow_list=allow_list)

    return _replace_envelopes(text, replace)


def collect_secrets(text: str, *, key: bytes, pipeline: str) -> list[str]:
    """The plaintexts of all envelopes in ``text`` (to build a :class:`Masker`). Raises like :func:`decrypt`."""
    return [decrypt(envelope, key=key, pipeline=pipeline) for envelope in dict.fromkeys(find_envelopes(text))]


# --- masking ----------------------------------------------------------------------------------------------------------


def _b64_text(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def secret_forms(value: str) -> set[str]:
    """The strings to mask for one secret value, each longer than 3 characters and without a newline.

    The value, each of its lines and each part between literal ``\\n`` escapes, plus the standard base64 of each;
    when the value is itself base64 text, the lines of its decoded form too. Output is masked line by line, so a
    multi-line value is hidden by masking each of its lines.
    """
    pieces = {value}
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
        pieces.add(decoded)
    except (binascii.Error, ValueError):
        pass
    lines: set[str] = set()
    for piece in pieces:
        for line in piece.split("\n"):
            lines.add(line)
            lines.add(line.rstrip("\r"))
            lines.update(line.split("\\n"))
    long_enough = {text for text in lines | pieces if len(text) >= MIN_MASKED_LENGTH}
    forms = long_enough | {_b64_text(text) for text in long_enough}
    return {form for form in forms if "\n" not in form}


class Masker:
    """Replaces every form of a set of secret values by ``***``. Immutable; ``mask`` is a pure function of its input."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms |= secret_forms(secret)
        # longest first: at a given position the regex takes the first alternative that matches
        self.forms: tuple[str, ...] = tuple(sorted(forms, key=lambda form: (-len(form), form)))
        self.longest = len(self.forms[0]) if self.forms else 0
        self._pattern = re.compile("|".join(map(re.escape, self.forms))) if self.forms else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __repr__(self) -> str:
        return f"Masker({len(self.forms)} forms)"

    def with_secrets(self, secrets: Iterable[str]) -> Masker:
        """A masker for these forms plus those of ``secrets``."""
        masker = Masker(secrets)
        return Masker._of_forms(set(self.forms) | set(masker.forms))

    @classmethod
    def _of_forms(cls, forms: set[str]) -> Masker:
        masker = cls()
        masker.forms = tuple(sorted(forms, key=lambda form: (-len(form), form)))
        masker.longest = len(masker.forms[0]) if masker.forms else 0
        masker._pattern = re.compile("|".join(map(re.escape, masker.forms))) if masker.forms else None
        return masker

    def mask(self, text: str) -> str:
        """``text`` with every secret form replaced by ``***``."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def stream(self) -> StreamMasker:
        """A masker for text arriving in chunks (a secret may be split between two chunks)."""
        return StreamMasker(self)


class StreamMasker:
    """Masks a stream of text chunks so that the concatenated output equals ``Masker.mask`` of the whole text.

    ``feed`` returns the part of the text seen so far that is decided; it holds back only the end of the current
    (unfinished) line that could still be the start of a secret — at most ``longest - 1`` characters. ``flush``
    returns the rest at the end of the stream. Because no secret form contains a newline, everything up to the last
    newline is always released.
    """

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._held = ""

    def feed(self, chunk: str) -> str:
        pattern = self._masker._pattern
        if pattern is None:
            return chunk
        buffer = self._held + chunk
        undecided = self._undecided(buffer)
        pieces: list[str] = []
        position = 0
        for match in pattern.finditer(buffer):
            if match.start() >= undecided:
                break
            pieces.append(buffer[position : match.start()])
            pieces.append(MASK)
            position = match.end()
        cut = max(position, undecided)
        pieces.append(buffer[position:cut])
        self._held = buffer[cut:]
        return "".join(pieces)

    def _undecided(self, buffer: str) -> int:
        """Where the text stops being final: the first position whose rest is a proper prefix of a secret form.

        A match there could still grow with the next chunk; every earlier position is decided. Only the last
        ``longest - 1`` characters after the last newline can qualify (no form contains a newline).
        """
        forms = self._masker.forms
        start = max(len(buffer) - self._masker.longest + 1, buffer.rfind("\n") + 1, 0)
        for position in range(start, len(buffer)):
            rest = buffer[position:]
            if any(len(form) > len(rest) and form.startswith(rest) for form in forms):
                return position
        return len(buffer)

    def flush(self) -> str:
        rest, self._held = self._held, ""
        return self._masker.mask(rest)
