import pytest
from django.test import Client

from builds.testing import make_build, make_pipeline
from estafette.testing import make_user
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
def test_it_shows_a_releases_log_and_filters_log_records_by_the_registered_kinds(operator: Client) -> None:
    # given a release with a log, and a build with one
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    release = make_release(build, "staging", status=RunStatus.RUNNING)
    for kind, run_id, text in ((Release.kind, release.pk, "deployed"), (build.kind, build.pk, "compiled")):
        record = log_record_create(pipeline=build.pipeline, run_kind=kind, run_id=run_id)
        log_append(record=record, seq=1, lines=[output_line("deploy", text)])

    # when
    page = operator.get(f"/admin/releases/release/{release.pk}/change/")
    records = operator.get("/admin/runs/logrecord/?run_kind=release")

    # then
    assert "deployed" in page.content.decode()
    assert "compiled" not in page.content.decode()
    assert [record.run_id for record in records.context["cl"].result_list] == [release.pk]
    choices = [choice["display"] for choice in records.context["cl"].filter_specs[0].choices(records.context["cl"])]
    assert choices == ["All", "build", "release", "bot"]
