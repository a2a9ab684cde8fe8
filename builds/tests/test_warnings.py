"""Best-practice warnings (``builds.warnings``, ESTAFETTE.md §3.9): Estafette's rules, for a build and a pipeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from builds.testing import MANIFEST, make_build, make_pipeline
from builds.warnings import image_tag
from estafette.lib.crypt import secret_encrypt
from estafette.testing import client_for, make_user
from runs.models import RunStatus

API = "/api/pipelines/github.com/acme/api"
PINNED = MANIFEST.replace(
    "        token: estafette.secret(deFTz5Bdjg6SUe29.oPIkXbze5G9PNEWS2-ZnArl8BCqHnx4MdTdxHg37th9u)\n", ""
)


@pytest.fixture
def client() -> Any:
    return client_for(make_user())


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("alpine", ("", "latest")),
        ("alpine:3.20", ("", "3.20")),
        ("extensions/docker:dev", ("extensions", "dev")),
        ("registry.local:5000/team/app", ("registry.local:5000/team", "latest")),
        ("registry.local:5000/team/app:1.0", ("registry.local:5000/team", "1.0")),
        ("alpine@sha256:abc", ("", "sha256:abc")),
    ],
)
def test_it_reads_an_images_repository_and_tag(image: str, expected: tuple[str, str]) -> None:
    assert image_tag(image) == expected


def messages(client: Any, url: str) -> list[str]:
    answer = client.get(url)
    assert answer.status_code == 200, answer.json()
    return [f"{w['status']}: {w['message']}" for w in answer.json()["warnings"]]


@pytest.mark.django_db
def test_a_pinned_manifest_without_secrets_has_no_warnings(client: Any) -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED, manifest=PINNED)
    assert messages(client, f"{API}/builds/{build.pk}/warnings") == []


@pytest.mark.django_db
def test_it_warns_of_unpinned_and_dev_images_the_dev_track_and_global_secrets(client: Any) -> None:
    # given a manifest with each thing to warn about
    manifest = (
        PINNED.replace("image: python:3.11-slim", "image: python")
        .replace("image: extensions/deploy:stable\n", "image: extensions/deploy:dev\n", 1)
        .replace(
            "stages:\n  build:",
            f"builder:\n  track: dev\n\nenv:\n  TOKEN: {secret_encrypt(value='x')}\n\nstages:\n  build:",
            1,
        )
    )
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED, manifest=manifest)

    # when
    found = messages(client, f"{API}/builds/{build.pk}/warnings")

    # then, one warning per rule, naming the stages
    assert len(found) == 4, found
    assert "`build`" in found[0] and "latest" in found[0]
    assert "`staging/deploy`" in found[1] and "dev" in found[1]
    assert "dev** track" in found[2]
    assert "_global_" in found[3]


@pytest.mark.django_db
def test_a_secret_of_another_pipeline_is_a_warning_and_estafettes_own_pipelines_may_use_dev(client: Any) -> None:
    other = secret_encrypt(value="x", allow_list="github.com/acme/web")
    manifest = PINNED.replace("stages:\n  build:", f"env:\n  TOKEN: {other}\n\nstages:\n  build:", 1)
    # (such a build fails at once, as in Estafette: its warning still says why)
    build = make_build(make_pipeline("api"), status=RunStatus.FAILED, manifest=manifest)
    own = make_build(
        make_pipeline("api", owner="estafette"),
        status=RunStatus.SUCCEEDED,
        manifest=PINNED.replace("image: extensions/deploy:stable\n", "image: extensions/deploy:dev\n", 1),
    )

    [restricted] = messages(client, f"{API}/builds/{build.pk}/warnings")
    estafettes = messages(client, f"/api/pipelines/github.com/estafette/api/builds/{own.pk}/warnings")

    assert "_restricted_" in restricted
    assert estafettes == []


@pytest.mark.django_db
def test_a_pipeline_warns_of_a_slow_median_build_time(client: Any) -> None:
    # given builds taking 3, 3 and 10 minutes (median 3), then a pipeline whose builds take 6 minutes
    t0 = timezone.now() - timedelta(hours=2)
    pipeline = make_pipeline("api")
    for n, minutes in enumerate((3, 3, 10)):
        start = t0 + timedelta(minutes=20 * n)
        make_build(
            pipeline,
            status=RunStatus.SUCCEEDED,
            manifest=PINNED,
            now=start,
            started=start,
            finished=start + timedelta(minutes=minutes),
        )
    slow = make_pipeline("web")
    make_build(
        slow, status=RunStatus.SUCCEEDED, manifest=PINNED, now=t0, started=t0, finished=t0 + timedelta(minutes=6)
    )

    # then
    assert [w.split(":")[0] for w in messages(client, f"{API}/warnings")] == ["warning"]
    assert "3m0s" in messages(client, f"{API}/warnings")[0]
    assert [w.split(":")[0] for w in messages(client, "/api/pipelines/github.com/acme/web/warnings")] == ["danger"]
