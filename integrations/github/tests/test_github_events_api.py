"""``POST /api/integrations/github/events`` with GitHub's own example deliveries (``@octokit/webhooks-examples``): what
each becomes on the queue."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from estafette.queue.models import OutboxMessage
from integrations.github.testing import WEBHOOK_SECRET, branch_push, delivery_headers, webhook_example

pytestmark = pytest.mark.django_db
URL = "/api/integrations/github/events"


@pytest.fixture(autouse=True)
def github_app(settings) -> None:
    settings.GITHUB_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.GITHUB_API_URL = "https://api.github.com"


def deliver(event: str, payload: dict, *, delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958", **headers: str):
    body = json.dumps(payload).encode()
    return APIClient().post(
        URL,
        data=body,
        content_type="application/json",
        **{**delivery_headers(event, body, delivery=delivery), **headers},
    )


def published() -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for row in OutboxMessage.objects.order_by("id"):
        rows.setdefault(row.subject, []).append({"id": row.dedup_key, **json.loads(row.payload)})
    return rows


def test_a_branch_push_is_a_github_event_and_a_push_for_the_github_forge() -> None:
    # given GitHub's example push of a branch by an installed app
    example = branch_push()

    # when it is delivered
    response = deliver("push", example)

    # then both events are published under ids of the delivery
    assert response.status_code == 202, response.content
    assert response.json() == {
        "ids": ["github-72d3162e-cc78-11e3-81ab-4c9367dc0958", "github-push-72d3162e-cc78-11e3-81ab-4c9367dc0958"]
    }
    events = published()
    (github,) = events["estafette.events.github"]
    assert github["event"] == "push"
    assert github["repository"] == "github.com/Codertocat/Hello-World"
    assert github["delivery"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert json.loads(github["payload"]) == example
    (push,) = events["estafette.events.git"]
    assert push == {
        "id": "github-push-72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "event": "push",
        "forge": "github",
        "repository": "https://github.com/Codertocat/Hello-World.git",
        "pipeline": "github.com/Codertocat/Hello-World",
        "branch": "master",
        "revision": example["after"],
        "installation": example["installation"]["id"],
        "commits": [
            {
                "message": "Initial commit",
                "author": {
                    "email": "21031067+Codertocat@users.noreply.github.com",
                    "name": "Codertocat",
                    "username": "Codertocat",
                },
            }
        ],
    }


def test_a_tag_push_and_a_deleted_branch_make_no_build_but_reach_github_triggers() -> None:
    tag = webhook_example("push", lambda e: e["ref"].startswith("refs/tags/") and not e["deleted"])
    deleted_branch = branch_push() | {"deleted": True, "after": "0" * 40}

    assert deliver("push", tag, delivery="d-1").status_code == 202
    assert deliver("push", deleted_branch, delivery="d-2").status_code == 202

    events = published()
    assert [event["id"] for event in events["estafette.events.github"]] == ["github-d-1", "github-d-2"]
    assert "estafette.events.git" not in events


def test_an_installation_event_reaches_github_triggers_without_a_repository() -> None:
    example = webhook_example("installation", lambda e: e["action"] == "created")

    assert deliver("installation", example, delivery="inst-1").status_code == 202

    (event,) = published()["estafette.events.github"]
    assert (event["event"], event["repository"]) == ("installation", "")


def test_a_renamed_repository_is_a_repository_change() -> None:
    example = webhook_example("repository", lambda e: e["action"] == "renamed")

    assert deliver("repository", example, delivery="ren-1").status_code == 202

    (change,) = published()["estafette.events.repository"]
    assert change == {
        "id": "github-repository-ren-1",
        "change": "renamed",
        "repository": "github.com/Octocoders/Hello-World",
        "previous": "github.com/Octocoders/" + example["changes"]["repository"]["name"]["from"],
    }


@pytest.mark.parametrize(
    ("action", "change"), [("archived", "archived"), ("deleted", "archived"), ("unarchived", "unarchived")]
)
def test_an_archived_deleted_or_unarchived_repository_is_a_repository_change(action: str, change: str) -> None:
    # The examples package has no archived delivery: a real repository delivery with that action.
    example = webhook_example("repository", lambda e: e["action"] == "renamed") | {"action": action}
    example.pop("changes")

    assert deliver("repository", example, delivery=f"{action}-1").status_code == 202

    (published_change,) = published()["estafette.events.repository"]
    assert published_change["change"] == change
    assert published_change["repository"] == "github.com/Octocoders/Hello-World"


def test_the_same_delivery_is_the_same_events() -> None:
    example = branch_push()

    first = deliver("push", example, delivery="same-1")
    again = deliver("push", example, delivery="same-1")

    assert first.json() == again.json()
    assert {row.dedup_key for row in OutboxMessage.objects.all()} == set(first.json()["ids"])


def test_a_github_enterprise_delivery_names_its_own_host(settings) -> None:
    settings.GITHUB_API_URL = "https://ghe.acme.example/api/v3"
    example = json.loads(json.dumps(branch_push()).replace("https://github.com/", "https://ghe.acme.example/"))

    assert deliver("push", example).status_code == 202

    (push,) = published()["estafette.events.git"]
    assert push["pipeline"] == "ghe.acme.example/Codertocat/Hello-World"


def test_without_a_secret_deliveries_are_refused_saying_what_to_set(settings) -> None:
    settings.GITHUB_WEBHOOK_SECRET = ""

    response = deliver("push", branch_push())

    assert response.status_code == 401
    assert "ESTAFETTE_GITHUB_WEBHOOK_SECRET" in response.json()["message"]
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"HTTP_X_GITHUB_EVENT": ""}, "X-GitHub-Event"),
        ({"HTTP_X_GITHUB_DELIVERY": "../../etc"}, "X-GitHub-Delivery"),
    ],
)
def test_a_delivery_without_its_headers_is_a_400_saying_which(headers: dict, reason: str) -> None:
    response = deliver("push", branch_push(), **headers)

    assert response.status_code == 400
    assert reason in response.json()["message"]
    assert not OutboxMessage.objects.exists()


def test_a_push_without_an_installation_is_a_400_saying_to_install_the_app() -> None:
    example = branch_push()
    example.pop("installation")

    response = deliver("push", example)

    assert response.status_code == 400
    assert "install the GitHub App" in response.json()["message"]
