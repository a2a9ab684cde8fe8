"""``manage.py drf_create_token <username>``: a new API token, printed once.

Named and worded as DRF's command it replaces (``Generated token <key> for user <username>``), so scripts that read
the key from its third word keep working. Unlike DRF's, it always makes a new token: only the key's digest is kept,
so an existing key cannot be shown again. A user may have several tokens (one per client); ``--reset`` deletes the
user's other tokens first.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from estafette.apitokens.services import api_token_create


class Command(BaseCommand):
    help = "Create a new API token for a user and print it (once: only its digest is kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("-r", "--reset", action="store_true", help="delete the user's other API tokens first")
        parser.add_argument("--name", default="", help="what the token is for, shown in the admin")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            raise CommandError(f"Cannot create the Token: user {username} does not exist") from None
        _, key = api_token_create(user=user, name=options["name"], replace_existing=options["reset"])
        self.stdout.write(f"Generated token {key} for user {username}")
