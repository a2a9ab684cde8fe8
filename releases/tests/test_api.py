import pytest

from builds.testing import make_build, make_pipeline
from estafette.testing import client_for, make_user, response_json
from releases.models import Release
from releases.testing import make_release
from runs.models import RunStatus
from runs.services import log_append, log_record_create
from runs.testing import output_line

API = "/api/pipelines/github.com/acme/api"


@pytest.fixture
def client():
    return client_for(make_user(staff=True))


@pytest.mark.django_db
def test_it_releases_a_succeeded_version_as_the_user_who_asked(client) -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)

    response = client.post(
        f"{API}/releases",
        {"name": "production", "action": "deploy", "releaseVersion": build.build_version, "repoName": "api"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["action"], body["releaseVersion"], body["releaseStatus"]) == (
        "production",
        "deploy",
        build.build_version,
        "pending",
    )
    assert (body["repoSource"], body["repoOwner"], body["repoName"]) == ("github.com", "acme", "api")
    assert body["triggerEvents"] == [{"fired": True, "manual": {"userID": "ann@example.com"}}]
    assert "duration" not in body
    pipeline = client.get(API).json()
    production = next(target for target in pipeline["releaseTargets"] if target["name"] == "production")
    assert [release["id"] for release in production["activeReleases"]] == [body["id"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "staging"}, 400, "releaseVersion: This field is required."),
        ({"name": "qa", "releaseVersion": "{version}"}, 400, "'qa' is not a release target"),
        ({"name": "staging", "releaseVersion": "{failed}"}, 409, "has no succeeded build (latest is failed)"),
        ({"name": "staging", "releaseVersion": "9.9.9"}, 404, "has no build with version 9.9.9"),
        ({"name": "staging", "releaseVersion": "{version}", "repoOwner": "evil"}, 400, "repo_owner 'evil'"),
    ],
)
def test_it_refuses_a_release_with_a_reason(client, body: dict, status: int, message: str) -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    failed = make_build(build.pipeline, status=RunStatus.FAILED)
    body = {key: value.format(version=build.build_version, failed=failed.build_version) for key, value in body.items()}

    response = client.post(f"{API}/releases", body, format="json")

    assert response.status_code == status
    assert message in response.json()["message"]
    assert not Release.objects.exists()


@pytest.mark.django_db
def test_it_lists_shows_and_cancels_releases(client) -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    done = make_release(build, "staging", status=RunStatus.SUCCEEDED)
    running = make_release(build, "production", action="rollback", status=RunStatus.RUNNING)
    make_release(make_build(make_pipeline("web"), status=RunStatus.SUCCEEDED), "staging")

    mine = client.get(f"{API}/releases?filter[target]=production").json()
    everyone = client.get("/api/releases").json()
    one = client.get(f"{API}/releases/{done.pk}").json()
    canceled = client.delete(f"{API}/releases/{running.pk}")
    refused = client.delete(f"{API}/releases/{done.pk}")

    assert [item["id"] for item in mine["items"]] == [str(running.pk)]
    assert everyone["pagination"]["totalItems"] == 3
    assert (one["id"], one["releaseStatus"], one["duration"] >= 0) == (str(done.pk), "succeeded", True)
    assert (canceled.status_code, canceled.json()["releaseStatus"]) == (200, "canceling")
    assert refused.status_code == 409
    assert client.get(f"{API}/releases/abc").status_code == 400
    assert client.get(f"{API}/releases/99999").status_code == 404


@pytest.mark.django_db
def test_it_serves_a_releases_log(client) -> None:
    release = make_release(make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED), status=RunStatus.RUNNING)
    record = log_record_create(pipeline=release.pipeline, run_kind=Release.kind, run_id=release.pk)
    log_append(record=record, seq=1, lines=[output_line("deploy", "rolling out")])

    body = response_json(client.get(f"{API}/releases/{release.pk}/logs"))
    records = client.get(f"{API}/releases/{release.pk}/alllogs").json()["items"]

    assert body["releaseID"] == str(release.pk)
    assert "buildID" not in body
    assert body["steps"][0]["logLines"][0]["text"] == "rolling out"
    assert [entry["id"] for entry in records] == [str(record.pk)]


@pytest.mark.django_db
def test_it_runs_lists_and_cancels_bots(client) -> None:
    make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)

    created = client.post(f"{API}/bots", {"name": "tidy"}, format="json")
    unknown = client.post(f"{API}/bots", {"name": "nightly"}, format="json")
    bot_id = created.json()["id"]
    listed = client.get(f"{API}/bots?filter[bot]=tidy").json()
    everyone = client.get("/api/bots").json()
    canceled = client.delete(f"{API}/bots/{bot_id}")
    no_logs = client.get(f"{API}/bots/{bot_id}/logs")

    assert created.status_code == 201
    assert (created.json()["name"], created.json()["botStatus"]) == ("tidy", "pending")
    assert unknown.status_code == 400
    assert [item["id"] for item in listed["items"]] == [bot_id]
    assert everyone["pagination"]["totalItems"] == 1
    assert canceled.json()["botStatus"] == "canceled"
    assert no_logs.status_code == 404
