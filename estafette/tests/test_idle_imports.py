"""The worker process (``manage.py consume --all --with relay,cron,sweeper,audit``) imports no DRF, drf-spectacular
or ``cryptography``: it serves no request and shows no run, and those three held ~25 MB of its idle RSS (issue 17).
An idle web worker imports no login, token or schema-generation library until a request needs one (~20 MB).

What keeps it so is a convention that nothing else checks: the run kinds name their serializers by dotted path
(``runs.registry.RunKind.serializer_path``, ``pipelines.run_views``), the intake's view lives apart from ``submit``
(``integrations.intake_view``), the OpenAPI extensions register from ``estafette.urls``, PyJWT is imported where a
token is made, and ``consume`` runs no system checks (they load every URL and view). A module-level import in any
app's ``ready`` chain would undo it silently, so this test starts a fresh interpreter that does what the worker does
before its first event and lists what it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What the worker command does before it waits for events, up to the point where it would connect (consume.py):
# Django's start-up (every app's ``ready``), the command's module and its system checks if it asks for them, every
# registered consumer and each task it runs.
WORKER_STARTUP = """
import json, sys
import django
django.setup()
from django.core.management import load_command_class
command = load_command_class("estafette.queue", "consume")
if command.requires_system_checks:  # as BaseCommand.execute does: the checks load every URL and view
    command.check()
from estafette.jobs import get_job_runner
from estafette.queue.consumer import registered_consumers
from estafette.queue.process import tasks_named
consumers = [cls() for cls in registered_consumers().values()]
tasks_named(["relay", "cron", "sweeper", "audit"])
get_job_runner()
print(json.dumps(sorted(sys.modules)))
"""

# INSTALLED_APPS imports each app's package and AppConfig (and DRF's system checks module): small, and unavoidable
# in a process that shares the web's settings.
APP_MODULES = {
    "rest_framework",
    "rest_framework.apps",
    "rest_framework.checks",
    "drf_spectacular",
    "drf_spectacular.apps",
    "drf_spectacular.checks",
}
# nats-py's optional WebSocket transport (aiohttp and what it brings): ~11 MB in each process that imports nats, for
# ws:// servers only (estafette.queue imports nats without it).
WEBSOCKET_TRANSPORT = ("aiohttp", "multidict", "yarl")
KEPT_OUT = ("rest_framework", "drf_spectacular", "cryptography", "jwt", "pydantic", *WEBSOCKET_TRANSPORT)


def test_worker_startup_imports_no_drf_spectacular_or_cryptography(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "estafette.settings",
        "ESTAFETTE_DATA_DIR": str(tmp_path),
        "ESTAFETTE_DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
    }
    command = [sys.executable, "-c", WORKER_STARTUP]
    done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert "estafette.queue.worker" in imported  # the script did reach the worker's own modules
    unwanted = [
        name
        for name in imported
        if name not in APP_MODULES and any(name == kept or name.startswith(f"{kept}.") for kept in KEPT_OUT)
    ]
    assert unwanted == [], (
        f"the worker's start-up imported {unwanted[:12]}: find the module-level import that pulls them in "
        "(python -X importtime, or the chain of `import` lines from an app's ready()) and make it lazy"
    )


# What a web worker does before its first request is served: the WSGI application, then the URL configuration (the
# first request resolves it; the readiness probe is one).
WEB_STARTUP = """
import json, sys
import estafette.wsgi
from django.urls import get_resolver
get_resolver().url_patterns
print(json.dumps(sorted(sys.modules)))
"""
# Held by an idle web process only once used: a login through a provider (authlib, joserfc), an API client's or a
# Cloud Source push's token (PyJWT, cryptography), the API's documentation (drf-spectacular's generator), a server
# configuration file (pydantic).
WEB_KEPT_OUT = (
    "authlib",
    "joserfc",
    "jwt",
    "cryptography",
    "pydantic",
    "drf_spectacular.generators",
    *WEBSOCKET_TRANSPORT,
)


def test_an_idle_web_worker_imports_no_login_token_or_schema_libraries(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "estafette.settings",
        "ESTAFETTE_DATA_DIR": str(tmp_path),
        "ESTAFETTE_DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "ESTAFETTE_OUTBOX_RELAY_IN_PROCESS": "false",
    }
    command = [sys.executable, "-c", WEB_STARTUP]
    done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert "runs.views" in imported  # the script did load the API's views
    assert "nats" in imported  # the web worker publishes events: it does import the NATS client (without aiohttp)
    unwanted = [name for name in imported if any(name == kept or name.startswith(f"{kept}.") for kept in WEB_KEPT_OUT)]
    assert unwanted == [], (
        f"an idle web worker imported {unwanted[:12]}: find the module-level import that pulls them in "
        "(python -X importtime -c 'import estafette.wsgi') and import it where it is used"
    )


# After estafette.queue: is nats-py's WebSocket transport available, and can aiohttp itself still be imported (the
# kubernetes client's asyncio parts need it)?
TRANSPORT_PROBE = """
import json, sys
import estafette.queue
import nats.aio.transport
websocket = nats.aio.transport.aiohttp is not None
import aiohttp
print(json.dumps({"websocket": websocket, "aiohttp": aiohttp.__name__}))
"""


def _probe_transport(nats_url: str) -> dict[str, object]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ESTAFETTE_NATS_")}
    if nats_url:
        env["ESTAFETTE_NATS_URL"] = nats_url
    command = [sys.executable, "-c", TRANSPORT_PROBE]
    done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_nats_is_imported_without_its_websocket_transport_and_aiohttp_stays_importable() -> None:
    assert _probe_transport("") == {"websocket": False, "aiohttp": "aiohttp"}
    assert _probe_transport("nats://user:secret@nats.example:4222") == {"websocket": False, "aiohttp": "aiohttp"}


def test_a_websocket_nats_url_keeps_the_websocket_transport() -> None:
    assert _probe_transport("wss://user:secret@nats.example:443") == {"websocket": True, "aiohttp": "aiohttp"}
    assert _probe_transport("nats://a.example:4222, ws://b.example:8080") == {"websocket": True, "aiohttp": "aiohttp"}
