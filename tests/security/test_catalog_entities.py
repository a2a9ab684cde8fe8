"""Attacks on the catalog's mutation routes (``POST /api/catalog/entities``, ``PUT|DELETE …/{id}``): changes by
callers without a catalog role, by an API client and by a job token; a change sent with the session but without CSRF
proof; a body the size of a denial of service."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from builds.testing import make_build, make_pipeline
from estafette.access import roles
from estafette.access.models import Client
from estafette.access.services import account_of, client_create
from estafette.access.tokens import client_token_issue
from estafette.lib.jobtokens import issue_job_token
from estafette.testing import client_for, make_user
from pipelines.models import CatalogEntity

pytestmark = pytest.mark.django_db
API = "/api/catalog/entities"
DEEP: Any = "x" * 1000
for _ in range(40):
    DEEP = [DEEP]


@pytest.fixture
def target() -> CatalogEntity:
    return CatalogEntity.objects.create(key="service", value="api", labels=[], metadata={"owner": "ci"})


def attempts(api: APIClient, entity: CatalogEntity) -> list[int]:
    return [
        api.post(API, {"key": "service", "value": "evil"}, format="json").status_code,
        api.put(f"{API}/{entity.pk}", {"key": "service", "value": "evil"}, format="json").status_code,
        api.delete(f"{API}/{entity.pk}").status_code,
    ]


def unchanged(entity: CatalogEntity) -> bool:
    return list(CatalogEntity.objects.values_list("pk", "value")) == [(entity.pk, "api")]


def test_a_signed_in_user_without_a_catalog_role_changes_nothing(target: CatalogEntity) -> None:
    # A pipeline operator is no catalog administrator; the viewer role reads but does not change.
    operator = make_user("mallory")
    account_of(operator).roles = [roles.GROUP_PIPELINES_OPERATOR]
    viewer = make_user("eve")
    account = account_of(viewer)
    account.roles = ["catalog.entities.viewer"]
    account.save()

    assert attempts(client_for(operator), target) == [403, 403, 403]
    assert attempts(client_for(viewer), target) == [403, 403, 403]
    assert client_for(viewer).get(f"{API}/{target.pk}").status_code == 200
    assert unchanged(target)


def test_anonymous_callers_and_job_tokens_change_nothing(target: CatalogEntity) -> None:
    build = make_build(make_pipeline("api"))
    job = APIClient()
    job.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_job_token(kind=build.kind, run_id=build.pk)}")

    assert attempts(APIClient(), target) == [401, 401, 401]
    assert attempts(job, target) == [401, 401, 401]
    assert unchanged(target)


def test_an_api_client_needs_the_catalog_role_too(target: CatalogEntity) -> None:
    client, _ = client_create(name="deployer", roles=[roles.ORGANIZATION_PIPELINES_OPERATOR])
    token, _ = client_token_issue(client=Client.objects.get(pk=client.pk))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert attempts(api, target) == [403, 403, 403]
    assert unchanged(target)


def test_a_session_change_without_csrf_proof_is_refused(target: CatalogEntity) -> None:
    # A catalog administrator's browser, driven by another site: the session cookie goes along, the CSRF token not.
    admin = make_user("cat")
    account = account_of(admin)
    account.roles = ["catalog.entities.admin"]
    account.save()
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(admin)

    assert attempts(api, target) == [403, 403, 403]
    assert unchanged(target)


@pytest.mark.parametrize(
    "body",
    [
        {"key": "service", "value": "x", "metadata": {"deep": DEEP}},
        {"key": "service", "value": "x", "labels": [{"key": f"k{n}", "value": "v"} for n in range(1000)]},
        {"key": "service", "value": "x\u0000"},
        {"key": "service", "value": "x", "parentKey": "team\nX-Injected: 1", "parentValue": "ci"},
    ],
)
def test_hostile_bodies_are_refused_with_a_reason_never_a_500(body: dict[str, Any]) -> None:
    admin = make_user("cat", staff=True)

    response = client_for(admin).post(API, body, format="json")

    assert response.status_code in (400, 201)
    if response.status_code == 201:  # stored as given (JSON), nothing executed or split
        stored = CatalogEntity.objects.get()
        assert stored.metadata == body["metadata"]
    else:
        assert response.json()["message"]
        assert not CatalogEntity.objects.exists()
