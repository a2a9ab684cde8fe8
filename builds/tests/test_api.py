from datetime import UTC, datetime, timedelta

import pytest

from builds.models import Build
from builds.testing import INVALID_MANIFEST, make_build, make_pipeline
from estafette.testing import client_for, make_user, response_json
from runs.models import RunStatus
from runs.services import log_append, log_record_create
from runs.testing import output_line

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
API = "/api/pipelines/github.com/acme/api"


@pytest.fixture
def client():
    return client_for(make_user(staff=True))


@pytest.mark.django_db
def test_it_lists_a_pipelines_builds_newest_first_with_filters(client) -> None:
    # given
    pipeline = make_pipeline("api")
    first = make_build(pipeline, status=RunStatus.SUCCEEDED, now=T0)
    second = make_build(pipeline, status=RunStatus.FAILED, branch="develop", now=T0 + timedelta(minutes=1))
    make_build(make_pipeline("other"), now=T0 + timedelta(minutes=2))

    # when
    everything = client.get(f"{API}/builds").json()
    failed = client.get(f"{API}/builds?filter[status]=failed").json()
    on_master = client.get(f"{API}/builds?filter[branch]=master").json()

    # then
    assert [item["id"] for item in everything["items"]] == [str(second.pk), str(first.pk)]
    assert everything["pagination"]["totalItems"] == 2
    assert [item["id"] for item in failed["items"]] == [str(second.pk)]
    assert [item["id"] for item in on_master["items"]] == [str(first.pk)]
    assert "manifest" not in everything["items"][0]


@pytest.mark.django_db
def test_it_lists_builds_of_all_pipelines_with_an_exact_total(client) -> None:
    for name in ("alpha", "beta", "gamma"):
        make_build(make_pipeline(name), status=RunStatus.SUCCEEDED)
        make_build(make_pipeline(name))

    body = client.get("/api/builds?page[size]=4").json()
    pending = client.get("/api/builds?filter[status]=pending&filter[labels]=team=ci&filter[search]=bet").json()

    assert body["pagination"] == {"page": 1, "size": 4, "totalPages": 2, "totalItems": 6}
    assert [item["repoName"] for item in pending["items"]] == ["beta"]
    assert pending["pagination"]["totalItems"] == 1


@pytest.mark.django_db
def test_it_shows_a_build_by_id_or_revision_with_secrets_hidden(client) -> None:
    # given
    pipeline = make_pipeline("api")
    older = make_build(pipeline, status=RunStatus.FAILED, revision="a" * 40, now=T0)
    newer = make_build(pipeline, revision="a" * 40, now=T0 + timedelta(minutes=1))

    # when
    by_id = client.get(f"{API}/builds/{older.pk}").json()
    by_revision = client.get(f"{API}/builds/{'a' * 40}").json()

    # then
    assert by_id["id"] == str(older.pk)
    assert by_revision["id"] == str(newer.pk)
    assert "estafette.secret(" not in by_id["manifest"]
    assert "token: ***" in by_id["manifest"]
    assert "estafette.secret(" in older.manifest_with_defaults
    assert "estafette.secret(" not in by_id["manifestWithDefaults"]
    assert "duration" in by_id
    assert "duration" not in by_revision
    assert "startedAt" not in by_revision


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        (f"{API}/builds/not-a-build", 400, "'not-a-build' is neither a build id nor a 40-character git revision"),
        (f"{API}/builds/999999", 404, "build 999999 not found in this pipeline"),
        ("/api/pipelines/github.com/acme/nope/builds", 404, "pipeline github.com/acme/nope not found"),
        (f"{API}/builds/{'b' * 40}/logs", 404, "not found in this pipeline"),
        (API + "/builds/{build}/logsbyid/x", 400, "log id must be a number, got 'x'"),
        (API + "/builds/{build}/logsbyid/12345", 404, "log 12345 of build {build} not found"),
    ],
)
def test_it_answers_bad_or_unknown_paths_with_a_reason(client, path: str, status: int, message: str) -> None:
    build = make_build(make_pipeline("api"))
    response = client.get(path.format(build=build.pk))
    message = message.format(build=build.pk)
    assert response.status_code == status
    assert message in response.json()["message"]


@pytest.mark.django_db
def test_it_does_not_show_a_build_of_another_pipeline(client) -> None:
    make_build(make_pipeline("api"))
    other = make_build(make_pipeline("web"))
    assert client.get(f"{API}/builds/{other.pk}").status_code == 404


@pytest.mark.django_db
def test_it_cancels_a_running_build_and_refuses_a_finished_one(client) -> None:
    running = make_build(make_pipeline("api"), status=RunStatus.RUNNING)
    done = make_build(running.pipeline, status=RunStatus.SUCCEEDED)

    canceled = client.delete(f"{API}/builds/{running.pk}")
    refused = client.delete(f"{API}/builds/{done.pk}")

    assert canceled.status_code == 200
    assert canceled.json()["buildStatus"] == "canceling"
    assert refused.status_code == 409
    assert refused.json() == {
        "code": "Conflict",
        "message": f"build {done.pk} is succeeded; only pending or running builds can be canceled",
    }


@pytest.mark.django_db
def test_it_rebuilds_a_failed_version_as_the_user_who_asked(client) -> None:
    failed = make_build(make_pipeline("api"), status=RunStatus.FAILED)

    response = client.post(
        f"{API}/builds",
        {"repoSource": "github.com", "repoOwner": "acme", "repoName": "api", "buildVersion": failed.build_version},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["buildVersion"], body["buildStatus"]) == (failed.build_version, "pending")
    assert body["triggerEvents"] == [{"fired": True, "manual": {"userID": "ann@example.com"}}]
    assert Build.objects.filter(build_version=failed.build_version).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "buildVersion: This field is required."),
        ({"buildVersion": "1.2.1", "repoName": "web"}, 400, "the body names repo_name 'web' but the URL names 'api'"),
        ({"buildVersion": "1.2.1"}, 409, "version 1.2.1 has a succeeded build"),
        ({"buildVersion": "7.7.7"}, 404, "has no build with version 7.7.7"),
    ],
)
def test_it_refuses_a_rebuild_with_a_reason(client, body: dict, status: int, message: str) -> None:
    make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    response = client.post(f"{API}/builds", body, format="json")
    assert response.status_code == status
    assert message in response.json()["message"]


@pytest.mark.django_db
def test_an_invalid_manifest_is_versioned_as_the_pipeline_versions_and_is_not_rebuilt(client) -> None:
    # given a pipeline of 1.2.x builds, then a push of an invalid manifest
    pipeline = make_pipeline("api")
    make_build(pipeline, status=RunStatus.SUCCEEDED)
    make_build(pipeline, manifest=INVALID_MANIFEST)
    valid, invalid = sorted(client.get(f"{API}/builds").json()["items"], key=lambda build: build["buildVersion"])
    assert (invalid["buildVersion"], invalid["buildStatus"]) == ("1.2.2", "failed")
    # and the builds say which manifest was invalid, so the UI does not offer what the API refuses
    assert (valid["manifestValid"], invalid["manifestValid"]) == (True, False)
    assert client.get(f"{API}/builds/{invalid['id']}").json()["manifestValid"] is False

    # when the UI asks to rebuild it
    response = client.post(f"{API}/builds", {"buildVersion": "1.2.2"}, format="json")

    # then it is refused with what to do instead, and there is still one build of that version
    assert response.status_code == 409
    assert "fix .estafette.yaml and push a new commit" in response.json()["message"]
    assert Build.objects.filter(build_version="1.2.2").count() == 1


@pytest.mark.django_db
def test_it_serves_the_latest_log_and_each_attempt(client) -> None:
    # given a build whose first attempt was lost and retried
    build = make_build(make_pipeline("api"), status=RunStatus.RUNNING)
    first = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    log_append(record=first, seq=1, lines=[output_line("build", "attempt one")])
    second = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    log_append(record=second, seq=1, lines=[output_line("build", "attempt two")])

    # when
    latest = response_json(client.get(f"{API}/builds/{build.pk}/logs"))
    earlier = response_json(client.get(f"{API}/builds/{build.pk}/logsbyid/{first.pk}"))
    records = client.get(f"{API}/builds/{build.pk}/alllogs").json()["items"]

    # then
    assert latest["id"] == str(second.pk)
    assert latest["buildID"] == str(build.pk)
    assert (latest["repoBranch"], latest["repoRevision"]) == (build.repo_branch, build.repo_revision)
    assert latest["steps"][0]["logLines"][0]["text"] == "attempt two"
    assert earlier["steps"][0]["logLines"][0]["text"] == "attempt one"
    assert [(record["id"], record["attempt"]) for record in records] == [(str(first.pk), 1), (str(second.pk), 2)]


@pytest.mark.django_db
def test_it_says_when_a_build_has_no_log_yet(client) -> None:
    build = make_build(make_pipeline("api"))
    response = client.get(f"{API}/builds/{build.pk}/logs")
    assert response.status_code == 404
    assert response.json()["message"] == f"build {build.pk} has no logs yet"


@pytest.mark.django_db
def test_it_shows_the_latest_build_of_each_recent_branch(client) -> None:
    pipeline = make_pipeline("api")
    make_build(pipeline, branch="master", now=T0)
    feature = make_build(pipeline, branch="feature/x", now=T0 + timedelta(minutes=1))
    master = make_build(pipeline, branch="master", now=T0 + timedelta(minutes=2))

    body = client.get(f"{API}/recentbuilds").json()

    assert [(item["id"], item["repoBranch"]) for item in body] == [
        (str(master.pk), "master"),
        (str(feature.pk), "feature/x"),
    ]


@pytest.mark.django_db
def test_it_finds_the_succeeded_build_of_a_version(client) -> None:
    pipeline = make_pipeline("api")
    succeeded = make_build(pipeline, status=RunStatus.SUCCEEDED)
    failed = make_build(pipeline, status=RunStatus.FAILED)

    found = client.get(f"{API}/builds/version/{succeeded.build_version}").json()
    only_failed = client.get(f"{API}/builds/version/{failed.build_version}").json()
    missing = client.get(f"{API}/builds/version/9.9.9")

    assert (found["id"], found["buildStatus"]) == (str(succeeded.pk), "succeeded")
    assert "manifest" in found
    assert only_failed["id"] == str(failed.pk)
    assert missing.status_code == 404
    assert missing.json()["message"] == "no build with version 9.9.9 in this pipeline"


@pytest.mark.django_db
def test_a_version_named_like_a_log_route_is_still_a_version(client) -> None:
    # …/builds/version/logs matches the route of a version and, after it, the log route of build "version".
    make_build(make_pipeline("api"))

    response = client.get(f"{API}/builds/version/logs")

    assert response.status_code == 404
    assert response.json()["message"] == "no build with version logs in this pipeline"
