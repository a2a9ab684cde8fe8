"""Turn ``ESTAFETTE_DATABASE_URL`` into a Django ``DATABASES`` entry.

Supported: ``sqlite:///relative/or/absolute.db`` (and the empty default: a file in the data dir),
``postgresql://user:pass@host:port/name?sslmode=…`` and ``cockroachdb://…`` (django-cockroachdb). The URL is read
by dj-database-url; here are only what it does not know: our SQLite engine and its settings, the ``cockroachdb``
spelling of the scheme, SERIALIZABLE, and errors that name the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

VARIABLE = "ESTAFETTE_DATABASE_URL"
SQLITE_ENGINE = "django.db.backends.sqlite3"
SERVER_ENGINES = frozenset({"django.db.backends.postgresql", "django_cockroachdb"})
_WRONG_SCHEME = VARIABLE + " must start with sqlite://, postgresql:// or cockroachdb://, got scheme {scheme!r}"
# dj-database-url knows cockroach:// (and postgres://, postgresql://); django-cockroachdb's docs write cockroachdb://.
dj_database_url.register("cockroachdb", "django_cockroachdb")
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
    """The ``DATABASES`` entry for ``url``, parsed by dj-database-url; errors name the variable."""
    if not url:
        return sqlite_database(data_dir / "estafette.db")
    try:
        parsed = dj_database_url.parse(url)
    except dj_database_url.UnknownSchemeError as error:
        raise ImproperlyConfigured(_WRONG_SCHEME.format(scheme=error.scheme)) from None
    except ValueError:  # dj_database_url.ParseError: a port that is not a number, an unquoted part
        raise ImproperlyConfigured(
            f"{VARIABLE} is not a valid URL (an invalid port, or a part that is not percent-encoded)"
        ) from None
    engine = parsed["ENGINE"]
    if engine == SQLITE_ENGINE:
        # dj-database-url reads an empty path as an in-memory database: one per connection, never a server's store
        if parsed["NAME"] in ("", ":memory:"):
            raise ImproperlyConfigured(f"{VARIABLE}: a sqlite URL needs a file path, e.g. sqlite:///var/estafette.db")
        # sqlite:///x.db is relative to the working directory, sqlite:////abs/x.db is absolute.
        return sqlite_database(Path(parsed["NAME"]).resolve())
    if engine not in SERVER_ENGINES:
        raise ImproperlyConfigured(_WRONG_SCHEME.format(scheme=urlsplit(url).scheme))
    if not parsed["NAME"]:
        raise ImproperlyConfigured(f"{VARIABLE} must name a database, e.g. postgresql://user@host:5432/estafette")
    options: dict[str, Any] = dict(parsed.get("OPTIONS") or {})
    # SERIALIZABLE everywhere: CockroachDB only offers it, and running PostgreSQL the same way means
    # the 40001 retries are exercised on every backend instead of only in production.
    options.setdefault("isolation_level", SERIALIZABLE)
    return {
        "ENGINE": engine,
        "NAME": parsed["NAME"],
        "USER": parsed["USER"],
        "PASSWORD": parsed["PASSWORD"],
        "HOST": parsed["HOST"],
        "PORT": str(parsed["PORT"] or ""),
        "OPTIONS": options,
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
