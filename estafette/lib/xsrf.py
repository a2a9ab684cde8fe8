"""CSRF protection in the pair Estafette's web UI sends: axios copies the ``XSRF-TOKEN`` cookie into an
``X-XSRF-TOKEN`` header on same-origin requests. Django's own pair (the ``csrftoken`` cookie, ``X-CSRFToken``) keeps
working; this adds the other spelling of the same double-submit check, not a weaker one.

``XsrfTokenMiddleware`` sits before ``CsrfViewMiddleware``:

* every response of a request that has a CSRF secret (Django's, from its cookie or a login's rotation) carries it
  as the ``XSRF-TOKEN`` cookie too (readable by scripts, as the ``csrftoken`` cookie is; ``SameSite=Lax``);
* a request with an ``X-XSRF-TOKEN`` header and no ``X-CSRFToken`` has the header passed on as Django's only when
  it equals the ``XSRF-TOKEN`` cookie; Django then compares it with its own secret (the ``csrftoken`` cookie), as
  for its own header. So a cross-site form (no header), a header that is not the cookie, and a cookie planted by a
  sibling site that is not Django's secret are all refused (403), and Django's Origin and Referer checks still run.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare

COOKIE = "XSRF-TOKEN"
HEADER = "HTTP_X_XSRF_TOKEN"


class XsrfTokenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        django_header = settings.CSRF_HEADER_NAME
        sent, cookie = request.META.get(HEADER, ""), request.COOKIES.get(COOKIE, "")
        if sent and django_header not in request.META and cookie and constant_time_compare(sent, cookie):
            request.META[django_header] = sent
        response = self.get_response(request)
        secret = request.META.get("CSRF_COOKIE")
        if secret and cookie != secret:
            response.set_cookie(
                COOKIE,
                secret,
                max_age=settings.CSRF_COOKIE_AGE,
                domain=settings.CSRF_COOKIE_DOMAIN,
                path=settings.CSRF_COOKIE_PATH,
                secure=settings.CSRF_COOKIE_SECURE,
                httponly=False,  # axios reads it to send the header
                samesite="Lax",
            )
        return response
