"""Typed readers for ``ESTAFETTE_*`` environment variables.

Every reader raises ``ImproperlyConfigured`` naming the variable when its value is malformed, so a
typo in a deployment stops start-up with a message instead of running with a surprising default.

Hand-written on purpose (environs was weighed, issue 18): its reader only reads ``os.environ`` (these take the
``environ`` mapping the tests and ``natsauth`` pass), its booleans accept ``yes``/``1``/``on`` where these refuse
them, and its ``_FILE`` support reads the real environment too; every call would still be wrapped to keep these
messages. What is left here is a few lines per type; the database URL is read by dj-database-url (``dburl``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

PREFIX = "ESTAFETTE_"


def _name(name: str) -> str:
    if not name.startswith(PREFIX):
        raise ValueError(f"environment variables of this project start with {PREFIX}: {name}")
    return name


def env_str(name: str, default: str, *, environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(_name(name), default)


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    raw = environ.get(_name(name))
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}")
    return value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] = os.environ) -> bool:
    """Only ``true`` and ``false`` (any case) are accepted: ``yes``/``1`` are refused, not guessed."""
    raw = environ.get(_name(name))
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ImproperlyConfigured(f"{name} must be 'true' or 'false', got {raw!r}")


def env_choice(name: str, default: str, choices: tuple[str, ...], *, environ: Mapping[str, str] = os.environ) -> str:
    value = env_str(name, default, environ=environ).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_secret(name: str, default: str | None = None, *, environ: Mapping[str, str] = os.environ) -> str | None:
    """Read a secret from ``NAME`` or, when ``NAME_FILE`` is set, from that file (as Helm mounts it)."""
    file_var = f"{_name(name)}_FILE"
    path = environ.get(file_var)
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as error:
            raise ImproperlyConfigured(f"{file_var} points at {path!r}, which cannot be read: {error}") from None
    return environ.get(name, default)


def env_paths(name: str, *, environ: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    """Colon-separated absolute paths (as ``PATH``); empty entries are skipped, a relative one is refused."""
    raw = environ.get(_name(name), "")
    paths = tuple(Path(entry.strip()) for entry in raw.split(":") if entry.strip())
    relative = [str(path) for path in paths if not path.is_absolute()]
    if relative:
        raise ImproperlyConfigured(f"{name} takes absolute paths separated by ':', got {', '.join(relative)}")
    return paths


def env_json(name: str, default: Any, *, environ: Mapping[str, str] = os.environ) -> Any:
    """A JSON document (object, list, …), e.g. Kubernetes affinity or tolerations for job pods."""
    raw = environ.get(_name(name))
    if raw is None or raw.strip() == "":
        return default
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a JSON document: {error}") from None


def env_secret_or_generated(
    name: str,
    *,
    file: Path,
    generate: Callable[[], str],
    environ: Mapping[str, str] = os.environ,
) -> str:
    """A secret from ``NAME``/``NAME_FILE``; when neither is set, the one kept in ``file``, made on first use.

    For keys a single-machine install may generate itself (the Django secret key, the secret
    decryption key): the file is written once with mode 0600 and read on every later start, so the
    key survives restarts. Deployments with several processes on several machines set the variable.
    """
    configured = env_secret(name, environ=environ)
    if configured:
        return configured
    if file.exists():
        return file.read_text(encoding="utf-8").strip()
    value = generate()
    file.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: of two processes starting at once, one key wins and
    # the other reads it, and nobody ever reads a half-written file.
    staging = file.with_name(f".{file.name}.{os.getpid()}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value)
    try:
        os.link(staging, file)
    except FileExistsError:
        value = file.read_text(encoding="utf-8").strip()
    finally:
        staging.unlink()
    return value
