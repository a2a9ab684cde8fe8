"""Turn ``ESTAFETTE_DATABASE_URL`` into a Django ``DATABASES`` entry.

Supported: ``sqlite:///relative/or/absolute.db`` (and the empty default: a file in the data dir),
``postgresql://user:pass@host:port/name?sslmode=…`` and ``cockroachdb://…`` (django-cockroachdb).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

VARIABLE = "ESTAFETTE_DATABASE_URL"
SERIALIZABLE = 3  # psycopg2.extensions.ISOLATION_LEVEL_SERIALIZABLE, without importing psycopg2 here

# SQLite is the single-machine default. WAL lets readers run beside one writer; IMMEDIATE transactions
# take the write lock at BEGIN so two writers queue on the busy timeout instead of one failing with
# "database is locked" when it tries to upgrade a read lock mid-transaction.
SQLITE_INIT = ";".join(
    [
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=30000",
    ]
)


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "estafette.lib.sqlite_backend",  # writers queue on a lock file, see there
        "NAME": str(path),
        "OPTIONS": {"init_command": SQLITE_INIT, "transaction_mode": "IMMEDIATE", "timeout": 30},
        "TEST": {"NAME": str(path.with_name(path.stem + "-test.db"))},
        # Kept open between requests and events: opening runs the PRAGMAs above, and closing the last connection
        # checkpoints the WAL and deletes it (the next one creates it again) — milliseconds of file work each time.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


def database_from_url(url: str, *, data_dir: Path) -> dict[str, Any]:
    if not url:
        return sqlite_database(data_dir / "estafette.db")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        raw_path = unquote(parts.path)
        if not raw_path or raw_path == "/":
            raise ImproperlyConfigured(f"{VARIABLE}: a sqlite URL needs a file path, e.g. sqlite:///var/estafette.db")
        # sqlite:///x.db is relative to the working directory, sqlite:////abs/x.db is absolute.
        path = Path(raw_path[1:]) if raw_path.startswith("/") else Path(raw_path)
        return sqlite_database(path.resolve())
    engines = {
        "postgres": "django.db.backends.postgresql",
        "postgresql": "django.db.backends.postgresql",
        "cockroachdb": "django_cockroachdb",
        "cockroach": "django_cockroachdb",
    }
    if scheme not in engines:
        raise ImproperlyConfigured(
            f"{VARIABLE} must start with sqlite://, postgresql:// or cockroachdb://, got scheme {scheme!r}"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured(f"{VARIABLE} must name a database, e.g. postgresql://user@host:5432/estafette")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{VARIABLE} has an invalid port") from None
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    # SERIALIZABLE everywhere: CockroachDB only offers it, and running PostgreSQL the same way means
    # the 40001 retries are exercised on every backend instead of only in production.
    options.setdefault("isolation_level", SERIALIZABLE)
    return {
        "ENGINE": engines[scheme],
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(parts.hostname or ""),
        "PORT": str(port or ""),
        "OPTIONS": options,
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
