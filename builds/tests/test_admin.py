import pytest
from django.test import Client

from builds.models import Build
from builds.testing import make_build, make_pipeline
from estafette.testing import make_user
from pipelines.models import Pipeline
from releases.models import Release
from releases.testing import make_release
from runs.models import RunStatus
from runs.services import log_append, log_record_create
from runs.testing import output_line


@pytest.fixture
def operator() -> Client:
    client = Client()
    client.force_login(make_user("root", staff=True))
    return client


@pytest.mark.django_db
def test_it_lists_filters_and_searches_builds(operator: Client) -> None:
    make_build(make_pipeline("api"), status=RunStatus.FAILED)
    make_build(make_pipeline("web"))

    page = operator.get("/admin/builds/build/?status__exact=failed&q=api")

    assert page.status_code == 200
    assert page.context["cl"].result_count == 1


@pytest.mark.django_db
def test_it_shows_a_builds_log_read_only_and_escaped(operator: Client) -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.RUNNING)
    record = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    log_append(record=record, seq=1, lines=[output_line("build", "<b>compiled</b>")])

    page = operator.get(f"/admin/builds/build/{build.pk}/change/")
    record_page = operator.get(f"/admin/runs/logrecord/{record.pk}/change/")

    assert page.status_code == 200
    assert "&lt;b&gt;compiled&lt;/b&gt;" in page.content.decode()
    assert "<b>compiled</b>" not in page.content.decode()
    assert "&lt;b&gt;compiled&lt;/b&gt;" in record_page.content.decode()


@pytest.mark.django_db
def test_it_cancels_and_rebuilds_through_the_services(operator: Client) -> None:
    running = make_build(make_pipeline("api"), status=RunStatus.RUNNING)
    failed = make_build(running.pipeline, status=RunStatus.FAILED)
    done = make_build(running.pipeline, status=RunStatus.SUCCEEDED)

    canceled = operator.post(
        "/admin/builds/build/",
        {"action": "cancel_builds", "_selected_action": [running.pk, done.pk]},
        follow=True,
    )
    operator.post("/admin/builds/build/", {"action": "rebuild_versions", "_selected_action": [failed.pk]})

    assert Build.objects.get(pk=running.pk).status == RunStatus.CANCELING
    assert Build.objects.get(pk=done.pk).status == RunStatus.SUCCEEDED
    assert "only pending or running builds can be canceled" in canceled.content.decode()
    assert Build.objects.filter(build_version=failed.build_version, status=RunStatus.PENDING).count() == 1


@pytest.mark.django_db
def test_it_archives_pipelines_and_cancels_releases(operator: Client) -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    release = make_release(build, "staging", status=RunStatus.RUNNING)

    operator.post("/admin/pipelines/pipeline/", {"action": "archive", "_selected_action": [build.pipeline_id]})
    operator.post("/admin/releases/release/", {"action": "cancel_releases", "_selected_action": [release.pk]})
    pipelines = operator.get("/admin/pipelines/pipeline/?archived__exact=1&q=api")
    releases = operator.get(f"/admin/releases/release/{release.pk}/change/")

    assert Pipeline.objects.get(pk=build.pipeline_id).archived is True
    assert Release.objects.get(pk=release.pk).status == RunStatus.CANCELING
    assert pipelines.context["cl"].result_count == 1
    assert releases.status_code == 200
