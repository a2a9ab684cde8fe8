"""Real responses of every read endpoint validate against the OpenAPI document the API publishes.

The documented shapes (serializers, wire_json annotations, the log schema) and the JSON the views
return are written separately; this keeps them the same.
"""

from typing import Any

import jsonschema
import pytest
from rest_framework.test import APIClient

from builder.contracts import ImageInfo, TailLogLine
from builds.models import Build
from builds.testing import make_build, make_pipeline
from estafette.testing import client_for, make_user, response_json
from releases.models import BotRun, Release
from releases.services import bot_create
from releases.testing import make_release
from runs.models import RunStatus
from runs.services import log_append, log_record_create
from runs.testing import output_line

API = "/api/pipelines/github.com/acme/api"


def as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` → JSON Schema ``type: [..., "null"]``; refs point into the document."""
    if isinstance(node, dict):
        converted = {key: as_json_schema(value) for key, value in node.items()}
        if converted.pop("nullable", False):
            if "type" in converted:
                converted["type"] = [converted["type"], "null"]
            else:
                converted = {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    return node


def response_schema(document: dict, path: str, method: str, status: int) -> dict:
    schema = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    return {**as_json_schema(schema), "components": as_json_schema(document["components"])}


@pytest.mark.django_db
def test_every_read_endpoint_returns_what_its_schema_says() -> None:
    # given one of everything
    client: APIClient = client_for(make_user())
    document = client.get("/api/schema/?format=json").json()
    build = make_build(
        make_pipeline("api"),
        status=RunStatus.SUCCEEDED,
        commits=[{"message": "m", "author": {"email": "a@example.com", "name": "A", "username": "a"}}],
    )
    release = make_release(build, "production", action="deploy", status=RunStatus.RUNNING, by="a@example.com")
    bot = bot_create(pipeline=build.pipeline, name="tidy")
    record = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    log_append(
        record=record,
        seq=1,
        lines=[
            TailLogLine(step="build", status="RUNNING", image=ImageInfo(name="golang", tag="1.22", image_size=10)),
            output_line("unit", "ok", parent_stage="build", depth=1),
            output_line("db", "up", parent_stage="build", type="service", depth=1),
        ],
    )
    release_record = log_record_create(pipeline=build.pipeline, run_kind=Release.kind, run_id=release.pk)
    log_append(record=release_record, seq=1, lines=[output_line("deploy", "go")])
    bot_record = log_record_create(pipeline=build.pipeline, run_kind=BotRun.kind, run_id=bot.pk)
    log_append(record=bot_record, seq=1, lines=[output_line("tidy", "swept")])
    routes = {
        "/api/pipelines": "/api/pipelines",
        "/api/pipelines/{source}/{owner}/{name}": API,
        "/api/pipelines/{source}/{owner}/{name}/builds": f"{API}/builds",
        "/api/pipelines/{source}/{owner}/{name}/builds/{build_id}": f"{API}/builds/{build.pk}",
        "/api/pipelines/{source}/{owner}/{name}/builds/{build_id}/logs": f"{API}/builds/{build.pk}/logs",
        "/api/pipelines/{source}/{owner}/{name}/builds/{build_id}/alllogs": f"{API}/builds/{build.pk}/alllogs",
        "/api/pipelines/{source}/{owner}/{name}/builds/{build_id}/logsbyid/{log_id}": (
            f"{API}/builds/{build.pk}/logsbyid/{record.pk}"
        ),
        "/api/pipelines/{source}/{owner}/{name}/releases": f"{API}/releases",
        "/api/pipelines/{source}/{owner}/{name}/releases/{release_id}": f"{API}/releases/{release.pk}",
        "/api/pipelines/{source}/{owner}/{name}/releases/{release_id}/logs": f"{API}/releases/{release.pk}/logs",
        "/api/pipelines/{source}/{owner}/{name}/releases/{release_id}/alllogs": f"{API}/releases/{release.pk}/alllogs",
        "/api/pipelines/{source}/{owner}/{name}/bots": f"{API}/bots",
        "/api/pipelines/{source}/{owner}/{name}/bots/{bot_id}": f"{API}/bots/{bot.pk}",
        "/api/pipelines/{source}/{owner}/{name}/bots/{bot_id}/logs": f"{API}/bots/{bot.pk}/logs",
        "/api/builds": "/api/builds",
        "/api/releases": "/api/releases",
        "/api/bots": "/api/bots",
        "/api/me": "/api/me",
        # Estafette's other routes its web UI reads
        "/api/pipelines/{source}/{owner}/{name}/bots/{bot_id}/alllogs": f"{API}/bots/{bot.pk}/alllogs",
        "/api/pipelines/{source}/{owner}/{name}/buildbranches": f"{API}/buildbranches",
        "/api/pipelines/{source}/{owner}/{name}/botnames": f"{API}/botnames",
        "/api/pipelines/{source}/{owner}/{name}/warnings": f"{API}/warnings",
        "/api/pipelines/{source}/{owner}/{name}/builds/{build_id}/warnings": f"{API}/builds/{build.pk}/warnings",
        "/api/pipelines/{source}/{owner}/{name}/stats/buildsdurations": f"{API}/stats/buildsdurations",
        "/api/pipelines/{source}/{owner}/{name}/stats/releasesdurations": f"{API}/stats/releasesdurations",
        "/api/pipelines/{source}/{owner}/{name}/stats/botscpu": f"{API}/stats/botscpu",
        "/api/pipelines/{source}/{owner}/{name}/stats/buildsmemory": f"{API}/stats/buildsmemory",
        "/api/releasetargets/pipelines": "/api/releasetargets/pipelines",
        "/api/releasetargets/releases": "/api/releasetargets/releases",
        "/api/labels/frequent": "/api/labels/frequent",
        "/api/stats/pipelinescount": "/api/stats/pipelinescount",
        "/api/stats/buildscount": "/api/stats/buildscount",
        "/api/stats/buildsduration": "/api/stats/buildsduration",
        "/api/stats/releasesadoption": "/api/stats/releasesadoption",
        "/api/stats/mostbots": "/api/stats/mostbots",
        "/api/config": "/api/config",
        "/api/config/credentials": "/api/config/credentials",
        "/api/manifest/templates": "/api/manifest/templates",
    }

    for documented, url in routes.items():
        # when
        response = client.get(url)

        # then
        assert response.status_code == 200, (url, response.content)
        jsonschema.validate(response_json(response), response_schema(document, documented, "get", 200))

    refused = client.get(f"{API}/builds/nope")
    jsonschema.validate(
        refused.json(), response_schema(document, routes_key(document, "builds/{build_id}"), "get", 400)
    )


def routes_key(document: dict, suffix: str) -> str:
    return next(path for path in document["paths"] if path.endswith(suffix))
