"""The web UI's Django side: index.html for every UI route, built assets through WhiteNoise."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

INDEX_HTML = b'<!doctype html><div id="app"></div><script type="module" src="/assets/index-AbCd1234.js"></script>'


@pytest.fixture
def built_ui(tmp_path: Path, settings: Settings) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX_HTML)
    (dist / "assets" / "index-AbCd1234.js").write_text("console.log('ui')", encoding="utf-8")
    (dist / "favicon.svg").write_text("<svg/>", encoding="utf-8")
    settings.FRONTEND_DIST = dist
    settings.WHITENOISE_ROOT = dist
    return dist


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/pipelines",
        "/pipelines/github.com/estafette/estafette-ci-api/builds/42/logs",
        "/releases?status=failed&label=team=ci",
        "/login?returnUrl=/builds",
        "/administration",
        "/apis",
    ],
)
def test_it_answers_every_ui_route_with_index_html(built_ui: Path, path: str) -> None:
    # given
    client = Client()
    # when
    response = client.get(path)
    # then
    assert response.status_code == 200
    assert response.content == INDEX_HTML
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"


def test_it_gives_the_ui_a_csrf_cookie_for_its_mutations(built_ui: Path) -> None:
    # when
    response = Client().get("/pipelines")
    # then
    assert response.cookies["csrftoken"].value
    assert not response.cookies["csrftoken"]["httponly"]


@pytest.mark.parametrize(
    "path", ["/api/no-such-endpoint", "/admin/no-such-page/", "/static/missing.css", "/assets/missing.js"]
)
def test_it_leaves_api_admin_static_and_asset_paths_alone(built_ui: Path, path: str) -> None:
    # when
    response = Client().get(path)
    # then
    assert response.status_code in {302, 404}
    assert INDEX_HTML not in response.content


def test_it_serves_the_built_assets_at_the_root_and_caches_hashed_ones_forever(built_ui: Path) -> None:
    # given: WhiteNoise reads WHITENOISE_ROOT when a client's handler loads the middleware
    client = Client()
    # when
    asset = client.get("/assets/index-AbCd1234.js")
    icon = client.get("/favicon.svg")
    # then
    assert asset.status_code == 200
    assert b"".join(asset.streaming_content) == b"console.log('ui')"
    assert "immutable" in asset["Cache-Control"]
    assert icon.status_code == 200
    assert "immutable" not in icon.get("Cache-Control", "")


def test_it_serves_assets_built_after_the_server_started(built_ui: Path) -> None:
    # given: the middleware has loaded (and scanned the build) before the rebuild
    client = Client()
    assert client.get("/assets/index-AbCd1234.js").status_code == 200
    (built_ui / "assets" / "index-NewHash9.js").write_text("console.log('rebuilt')", encoding="utf-8")
    # when
    response = client.get("/assets/index-NewHash9.js")
    # then
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"console.log('rebuilt')"


def test_it_never_serves_files_outside_the_build(built_ui: Path) -> None:
    # given
    (built_ui.parent / "secret.txt").write_text("not for the web", encoding="utf-8")
    # when
    client = Client(raise_request_exception=False)
    plain = client.get("/assets/../../secret.txt")
    escaped = client.get("/assets/%2e%2e/%2e%2e/secret.txt")
    # then: refused as a suspicious path (400) or not found, never the file
    for response in (plain, escaped):
        assert response.status_code in {400, 404}
        assert b"not for the web" not in response.content


def test_it_says_how_to_build_the_ui_when_it_is_missing(tmp_path: Path, settings: Settings) -> None:
    # given
    settings.FRONTEND_DIST = tmp_path / "not-built"
    # when
    response = Client().get("/pipelines")
    # then
    assert response.status_code == 503
    assert b"make frontend" in response.content
    assert b"Node.js 20" in response.content


def test_it_refuses_anything_but_reading(built_ui: Path) -> None:
    # when
    response = Client(enforce_csrf_checks=False).post("/pipelines", {})
    # then
    assert response.status_code == 405
