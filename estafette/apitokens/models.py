"""API tokens of API clients (``Authorization: Token <key>``), kept as digests.

Why not DRF's ``rest_framework.authtoken``: it keeps the key itself, so whoever reads the database (a backup, a
copied SQLite file, a read-only SQL account) can call the API as every token's user. Here only the key's SHA-256 is
kept, with its first characters to tell tokens apart; the key is shown once, when it is made.

Why not django-rest-knox, the library for this: its tokens expire after 10 hours unless configured otherwise (CI
clients keep theirs for months), it keeps no last use, and on every request it loads all of the user's tokens to
delete expired ones. What is needed here is a model, a digest and a lookup; the header, its parsing and the error
answers stay DRF's own (``ApiTokenAuthentication`` is DRF's ``TokenAuthentication`` with another lookup), so every
existing client keeps working.

Why SHA-256 and not a password hash: a key is 160 random bits, which no dictionary or brute force reaches, so a slow
or salted hash would protect nothing and cost every API request; a plain digest also lets the lookup use an index.
No key of the server is mixed in (HMAC), so tokens stay valid when ``ESTAFETTE_SECRET_KEY`` changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from estafette.lib.db import retry_on_serialization_failure

KEY_BYTES = 20  # 40 hexadecimal characters, the shape of DRF's keys: clients that check the format keep working
PREFIX_LENGTH = 8  # shown in the admin; leaves 128 unknown bits of the key
# The last use is written at most once a minute per token: a write on every API call would queue every read request
# behind SQLite's single writer.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiTokenManager(models.Manager["ApiToken"]):
    def for_key(self, key: str) -> ApiToken | None:
        """The token whose key is ``key``, with its user; None when there is none.

        Found by the digest's unique index, never by scanning. The database's comparison of digests is not constant
        time, but it only compares digests of the key presented: learning how much of a stored digest matches does
        not help to find a key (SHA-256 cannot be inverted). The found row is compared once more in constant time.
        """
        digest = digest_of(key)
        try:
            token = self.select_related("user").get(digest=digest)
        except self.model.DoesNotExist:
            return None
        return token if hmac.compare_digest(token.digest, digest) else None


class ApiToken(models.Model):
    digest = models.CharField(max_length=64, unique=True, editable=False, help_text="SHA-256 of the key, hexadecimal")
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False, help_text="the key's first characters")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="what uses it, e.g. 'deploy script'")
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenManager()

    class Meta:
        verbose_name = "API token"
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"{self.prefix}… of {self.user}"

    def set_new_key(self) -> str:
        """Give this (unsaved) token a new random key; returns the key, which is not kept anywhere."""
        key = secrets.token_hex(KEY_BYTES)
        self.digest = digest_of(key)
        self.prefix = key[:PREFIX_LENGTH]
        return key

    def mark_used(self, *, now: datetime) -> None:
        """Record a use at ``now``, unless one was recorded less than a minute earlier (then nothing is written).

        A conditional UPDATE, so requests racing over the same token write once; its own short transaction,
        retried on a serialization failure.
        """
        if self.last_used is not None and now - self.last_used < LAST_USED_RESOLUTION:
            return
        _record_use(self.pk, now)
        self.last_used = now


@retry_on_serialization_failure
def _record_use(token_id: int, now: datetime) -> None:
    stale = Q(last_used__isnull=True) | Q(last_used__lt=now - LAST_USED_RESOLUTION)
    ApiToken.objects.filter(stale, pk=token_id).update(last_used=now)
