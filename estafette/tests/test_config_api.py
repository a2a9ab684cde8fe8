"""``/api/config*`` (``estafette.config_api``): the server's configuration as YAML, with nothing secret in it."""

from __future__ import annotations

import pytest
import yaml
from django.test import override_settings

from estafette.lib.crypt import secret_encrypt
from estafette.testing import client_for, make_user

CREDENTIALS = [
    {
        "name": "registry",
        "type": "container-registry",
        "allowedPipelines": "github.com/acme/.+",
        "repository": "acme",
        "password": "plain-text-password",
        "token": "to be replaced by an envelope",
    },
    {"name": "slack", "type": "slack-webhook", "webhook": "https://hooks.slack.com/services/T0/B0/secretpart"},
]


@pytest.mark.django_db
def test_it_shows_the_configuration_without_any_secret() -> None:
    # given credentials holding an envelope and plain-text secrets
    envelope = secret_encrypt(value="hunter2")
    credentials = [{**CREDENTIALS[0], "token": envelope}, CREDENTIALS[1]]
    client = client_for(make_user())

    # when the configuration pages read it
    with override_settings(CREDENTIALS=credentials):
        everything = client.get("/api/config").json()["config"]
        shown = client.get("/api/config/credentials").json()["config"]
        images = client.get("/api/config/trustedimages").json()["config"]
        control = client.get("/api/config/buildControl").json()

    # then names, types and filters are shown; no secret, envelope or webhook is
    for text in (everything, shown):
        for secret in ("plain-text-password", "hunter2", envelope, "secretpart"):
            assert secret not in text
    [registry, slack] = yaml.safe_load(shown)
    assert registry == {
        "name": "registry",
        "type": "container-registry",
        "allowedPipelines": "github.com/acme/.+",
        "repository": "acme",
        "password": "***",
        "token": "***",
    }
    assert slack["webhook"] == "***"
    assert any(image["path"] == "extensions/docker" for image in yaml.safe_load(images))
    assert set(yaml.safe_load(everything)) == {"manifestPreferences", "credentials", "trustedImages"}
    assert control == {"config": "{}\n"}


@pytest.mark.django_db
@override_settings(ANONYMOUS_READ=True)
def test_it_needs_a_signed_in_user_even_when_anonymous_reads_are_allowed() -> None:
    anonymous = client_for(None)
    assert [anonymous.get(f"/api/config{part}").status_code for part in ("", "/credentials", "/trustedimages")] == [
        401,
        401,
        401,
    ]


@pytest.mark.django_db
def test_nothing_was_ever_migrated() -> None:
    client = client_for(make_user())
    answers = [
        client.get(path)
        for path in (
            "/api/migrations/from/github.com/acme/api",
            "/api/migrations/builds/7",
            "/api/migrations/releases/8",
        )
    ]
    assert [answer.status_code for answer in answers] == [404, 404, 404]
    assert "was not migrated" in answers[0].json()["message"]


def test_the_config_files_catalog_filters_are_label_keys() -> None:
    from django.core.exceptions import ImproperlyConfigured

    from estafette.lib.server_config import server_config_from_dict

    assert server_config_from_dict({"catalog": {"filters": ["type", " team "]}}, where="f").catalog_filters == [
        "type",
        "team",
    ]
    assert server_config_from_dict({}, where="f").catalog_filters == []
    for bad in ({"catalog": {"filters": "type"}}, {"catalog": {"filters": [""]}}, {"catalog": {"facets": []}}):
        with pytest.raises(ImproperlyConfigured):
            server_config_from_dict(bad, where="f")
