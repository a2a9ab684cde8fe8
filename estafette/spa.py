"""The web UI: the single-page app built into ``frontend/dist`` (``make frontend``).

WhiteNoise serves the built files at the site root (``WHITENOISE_ROOT``: ``/assets/…``,
``/favicon.svg``); this view answers every other UI path with ``index.html`` so that the Vue
router's history mode works on a reload or a shared link. ``/api/``, ``/admin/`` and
``/static/`` never reach it (see ``SPA_PATH`` in ``estafette/urls.py``).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe
from django.views.static import serve

# Paths the SPA never owns: the API, Django's admin and static files, the probes, and built assets
# (a missing /assets/x.js must be a 404, not an HTML page the browser tries to run).
SPA_PATH = r"^(?!(?:api|admin|static|assets)(?:/|$)|(?:liveness|readiness)$).*$"
ASSET_PATH = r"^assets/(?P<path>.+)$"

NOT_BUILT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Estafette CI: web UI not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The web UI has not been built yet</h1>
<p>Run <code>make frontend</code> in the repository (it needs Node.js 20.19 or newer), then reload this
page. <code>make run</code> does it for you when Node.js is installed.</p>
<p>The API is available under <a href="/api/docs/">/api/</a> and the administration under
<a href="/admin/">/admin/</a> in the meantime.</p>
</body>
</html>
"""


@require_safe
@ensure_csrf_cookie
def spa_index(request: HttpRequest) -> HttpResponse:
    """``index.html`` of the built UI, or a 503 page saying how to build it.

    Sets the ``csrftoken`` cookie, which the UI sends back as ``X-CSRFToken`` on its mutations
    (the login form first of all). ``index.html`` is never cached, so a new build is picked up at
    once; the hashed files under ``/assets/`` it points to are cached forever by WhiteNoise.
    """
    index = Path(settings.FRONTEND_DIST) / "index.html"
    try:
        html = index.read_bytes()
    except FileNotFoundError:
        response = HttpResponse(NOT_BUILT, status=503, content_type="text/html; charset=utf-8")
    else:
        response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def spa_asset(request: HttpRequest, path: str) -> HttpResponse:
    """A built file WhiteNoise does not know: one built after the server started (``make frontend``
    while it runs). WhiteNoise serves the files it found at start-up itself, so this is the rare path."""
    return serve(request, path, document_root=Path(settings.FRONTEND_DIST) / "assets")
