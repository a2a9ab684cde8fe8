"""``POST /api/manifest/generate`` takes a template's name from the request: it must never name another file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from estafette.testing import client_for, make_user


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    ["../secret", "../../etc/passwd", "/etc/passwd", "web/../../secret", "web\x00", "..", "manifest-web.tmpl", "WEB"],
)
def test_a_template_name_cannot_reach_another_file(tmp_path: Path, name: str, db: Any) -> None:
    # given a templates directory next to a secret file, both readable by the server
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "manifest-web.tmpl").write_text("app: {{.Application}}\n")
    (tmp_path / "manifest-secret.tmpl").write_text("TOP SECRET\n")
    (tmp_path / "secret").write_text("TOP SECRET\n")
    client = client_for(make_user())

    # attack: a template name with a path in it
    with override_settings(MANIFEST_TEMPLATES_DIR=str(templates)):
        answer = client.post("/api/manifest/generate", {"template": name}, format="json")

    # outcome: a 4xx naming no file's content
    assert answer.status_code in (400, 404)
    assert "TOP SECRET" not in answer.content.decode()


@pytest.mark.django_db
def test_placeholder_values_are_bounded(db: Any) -> None:
    client = client_for(make_user())
    huge = client.post(
        "/api/manifest/generate", {"template": "python", "placeholders": {"A": "x" * 5000}}, format="json"
    )
    many = client.post(
        "/api/manifest/generate",
        {"template": "python", "placeholders": {f"P{n}": "x" for n in range(100)}},
        format="json",
    )
    assert (huge.status_code, many.status_code) == (400, 400)
