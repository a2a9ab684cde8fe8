"""Personas for API tests: a logged-in member, an administrator, and anonymous visitors."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.test import APIClient

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test persona's password


def make_user(username: str = "ann", *, staff: bool = False) -> AbstractBaseUser:
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD, is_staff=staff, is_superuser=staff
    )


def client_for(user: AbstractBaseUser | None = None) -> APIClient:
    """An API client logged in (with a session) as ``user``, or anonymous when None."""
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def pass_login_cool_off() -> None:
    """Move every counted login failure back past the cool-off, as if it had passed: no test sleeps through it.

    Works for the system's processes too (they count in the same database), provided they run with the cool-off of
    these settings (``ESTAFETTE_LOGIN_COOLOFF_SECONDS``)."""
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.db.models import F

    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))


def response_json(response: Any) -> Any:
    """The JSON body of a test client response, streamed (the log documents) or not."""
    if getattr(response, "streaming", False):
        return json.loads(b"".join(response.streaming_content))
    return response.json()
