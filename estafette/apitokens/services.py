"""Making API tokens (the key is returned once and never kept)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from estafette.apitokens.models import ApiToken


@transaction.atomic
def api_token_create(*, user: Any, name: str = "", replace_existing: bool = False) -> tuple[ApiToken, str]:
    """A new token of ``user`` and its key, the only copy of which the caller gets.

    ``replace_existing`` deletes the user's other tokens in the same transaction (a leaked key is replaced).
    """
    if replace_existing:
        ApiToken.objects.filter(user=user).delete()
    token = ApiToken(user=user, name=name)
    key = token.set_new_key()
    token.save()
    return token, key
