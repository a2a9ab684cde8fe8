"""The manifest generator and validator (``pipelines.manifest_api``): templates, generation, validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from estafette.testing import client_for, make_user


@pytest.fixture
def client() -> Any:
    return client_for(make_user())


@pytest.mark.django_db
def test_it_lists_the_templates_and_fills_in_their_placeholders(client: Any, tmp_path: Path) -> None:
    # given a templates directory with one template and another file
    (tmp_path / "manifest-web.tmpl").write_text(
        "labels:\n  app: {{.Application}}\n  team: {{ .Team }}\n# {{.Application}}\n"
    )
    (tmp_path / "notes.txt").write_text("{{.Ignored}}")

    with override_settings(MANIFEST_TEMPLATES_DIR=str(tmp_path)):
        templates = client.get("/api/manifest/templates").json()
        generated = client.post(
            "/api/manifest/generate", {"template": "web", "placeholders": {"Application": "shop"}}, format="json"
        )
        unknown = client.post("/api/manifest/generate", {"template": "nope"}, format="json")

    assert templates == {"templates": [{"template": "web", "placeholders": ["Application", "Team"]}]}
    assert generated.json() == {"manifest": "labels:\n  app: shop\n  team: \n# shop\n"}
    assert unknown.status_code == 404 and "GET /api/manifest/templates" in unknown.json()["message"]


@pytest.mark.django_db
def test_the_bundled_templates_generate_valid_manifests(client: Any) -> None:
    names = [t["template"] for t in client.get("/api/manifest/templates").json()["templates"]]
    assert names
    for name in names:
        values = {"Application": "shop", "Team": "web", "ContainerRepository": "acme"}
        manifest = client.post("/api/manifest/generate", {"template": name, "placeholders": values}, format="json")
        validated = client.post("/api/manifest/validate", {"manifest": manifest.json()["manifest"]}, format="json")
        assert validated.json() == {"status": "succeeded", "errors": ""}, name


@pytest.mark.django_db
def test_it_validates_with_line_and_column_and_always_answers_200(client: Any) -> None:
    answer = client.post(
        "/api/manifest/validate", {"manifest": "stages:\n  build:\n    commands: [true]\n"}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "failed"
    assert ".estafette.yaml:2:" in answer.json()["errors"]
    malformed = client.post("/api/manifest/validate", {"nomanifest": 1}, format="json")
    assert malformed.status_code == 400
