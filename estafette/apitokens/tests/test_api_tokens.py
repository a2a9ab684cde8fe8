import datetime
import hashlib
import importlib
import io
import re
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from estafette.apitokens.models import ApiToken
from estafette.apitokens.services import api_token_create
from estafette.testing import client_for, make_user

pytestmark = pytest.mark.django_db


def me_with(key: str) -> int:
    return APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Token {key}").status_code


def test_it_authenticates_a_new_key_and_keeps_only_its_digest() -> None:
    # given
    user = make_user("robot")

    # when
    token, key = api_token_create(user=user, name="deploy script")

    # then the key works as DRF's did, and the database has its digest and first characters only
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    assert me_with(key) == 200
    stored = ApiToken.objects.values().get(pk=token.pk)
    assert key not in [str(value) for value in stored.values()]
    assert stored["digest"] == hashlib.sha256(key.encode()).hexdigest()
    assert stored["prefix"] == key[:8]
    assert me_with(stored["digest"]) == 401
    assert me_with(key[:-1] + ("0" if key[-1] != "0" else "1")) == 401


def test_a_user_has_a_token_per_client() -> None:
    user = make_user("robot")
    _, first = api_token_create(user=user)
    _, second = api_token_create(user=user)
    assert first != second
    assert me_with(first) == 200
    assert me_with(second) == 200


def test_it_refuses_the_token_of_an_inactive_user() -> None:
    user = make_user("robot")
    _, key = api_token_create(user=user)
    user.is_active = False
    user.save()
    response = APIClient().get("/api/me", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json() == {"code": "Unauthorized", "message": "User inactive or deleted."}


def test_it_records_the_last_use_at_most_once_a_minute() -> None:
    # given
    token, key = api_token_create(user=make_user("robot"))
    assert token.last_used is None

    # when it is used
    assert me_with(key) == 200

    # then the use is recorded
    used = ApiToken.objects.get(pk=token.pk).last_used
    assert used is not None and timezone.now() - used < datetime.timedelta(seconds=30)
    # and later uses within the minute write nothing; one a minute later does
    token.refresh_from_db()
    token.mark_used(now=used + datetime.timedelta(seconds=59))
    assert ApiToken.objects.get(pk=token.pk).last_used == used
    token.mark_used(now=used + datetime.timedelta(seconds=61))
    assert ApiToken.objects.get(pk=token.pk).last_used == used + datetime.timedelta(seconds=61)


def test_the_command_prints_a_new_key_each_time_and_resets_on_request() -> None:
    # given
    make_user("robot")

    def create(*args: str) -> str:
        output = io.StringIO()
        call_command("drf_create_token", *args, stdout=output)
        words = output.getvalue().split()
        assert words[:2] == ["Generated", "token"] and words[3:] == ["for", "user", "robot"]
        return words[2]  # what `cut -d' ' -f3` reads

    # when
    first = create("robot")
    second = create("robot", "--name", "ci")

    # then
    assert first != second
    assert me_with(first) == 200 and me_with(second) == 200
    assert ApiToken.objects.get(prefix=second[:8]).name == "ci"
    # and --reset leaves only the new one
    third = create("robot", "-r")
    assert (me_with(first), me_with(second), me_with(third)) == (401, 401, 200)
    with pytest.raises(CommandError, match="user nobody does not exist"):
        call_command("drf_create_token", "nobody", stdout=io.StringIO())


def test_the_upgrade_hashes_the_plaintext_keys_drf_kept_and_deletes_them() -> None:
    # given DRF's table of an install from before, with a key in plain text
    migration = importlib.import_module("estafette.apitokens.migrations.0002_hash_plaintext_tokens")
    user = make_user("robot")
    legacy_key = "0123456789abcdef0123456789abcdef01234567"
    created = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
    timestamp = "datetime" if connection.vendor == "sqlite" else "timestamp with time zone"
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE authtoken_token ("key" varchar(40) PRIMARY KEY, "created" {timestamp} NOT NULL, '
            '"user_id" integer NOT NULL)'
        )
        cursor.execute(
            'INSERT INTO authtoken_token ("key", "created", "user_id") VALUES (%s, %s, %s)',
            [legacy_key, created if connection.vendor != "sqlite" else "2024-05-01 12:00:00", user.pk],
        )
    assert me_with(legacy_key) == 401

    # when the migration runs
    migration.hash_plaintext_tokens(apps, SimpleNamespace(connection=connection))

    # then the client's key keeps working, and its plain text is gone
    assert me_with(legacy_key) == 200
    token = ApiToken.objects.get(user=user)
    assert (token.prefix, token.created) == (legacy_key[:8], created)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0


def test_the_admin_shows_a_new_key_once_and_then_only_its_prefix() -> None:
    # given
    admin = make_user("root", staff=True)
    robot = make_user("robot")
    client = client_for(admin)

    # when a token is added in the admin
    response = client.post(
        "/admin/apitokens/apitoken/add/", {"user": robot.pk, "name": "deploy"}, format="multipart"
    )  # the admin takes HTML forms

    # then the answer shows the key, which authenticates
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = re.search(r'id="api-token-key"[^>]*>([0-9a-f]{40})<', response.content.decode()).group(1)
    assert me_with(key) == 200
    # and the list and the token's page show its first characters, never the key
    token = ApiToken.objects.get(user=robot)
    listing = client.get("/admin/apitokens/apitoken/").content.decode()
    page = client.get(f"/admin/apitokens/apitoken/{token.pk}/change/").content.decode()
    assert f"{key[:8]}…" in listing
    assert key not in listing
    assert key not in page
