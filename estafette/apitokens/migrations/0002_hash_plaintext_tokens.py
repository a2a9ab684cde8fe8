"""Keys that DRF's ``rest_framework.authtoken`` kept in plain text become digests, and the plain text is deleted.

Installs from before this migration have the table ``authtoken_token`` (DRF's app is no longer installed, so it is
read with SQL where it exists). Each key keeps working: its SHA-256 is what ``ApiTokenAuthentication`` looks up.
The rows are deleted, not the table, so Django's record of DRF's migrations still matches the schema. On SQLite the
deleted pages are overwritten (``secure_delete``) instead of being left in the file's free list; PostgreSQL and
CockroachDB keep deleted rows until their vacuum or garbage collection removes them.

Not reversible: the keys' plain text is gone by design (a rollback must make new tokens).
"""

import datetime
import hashlib

from django.db import migrations

LEGACY_TABLE = "authtoken_token"


def _aware(value):
    if isinstance(value, str):  # SQLite without a converter for the column's type
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)  # USE_TZ: DRF stored UTC
    return value


def hash_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    quote = connection.ops.quote_name
    table = quote(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} FROM {table}")  # noqa: S608
        rows = cursor.fetchall()
    ApiToken = apps.get_model("apitokens", "ApiToken")
    ApiToken.objects.bulk_create(
        ApiToken(
            digest=hashlib.sha256(key.encode("utf-8")).hexdigest(),
            prefix=key[:8],
            user_id=user_id,
            name="made before tokens were hashed",
            created=_aware(created),
        )
        for key, user_id, created in rows
    )
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [("apitokens", "0001_initial")]

    operations = [migrations.RunPython(hash_plaintext_tokens, migrations.RunPython.noop, elidable=False)]
