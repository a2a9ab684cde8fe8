"""``POST /api/manifest/encrypt``: envelopes the installation key opens, restricted as asked."""

from __future__ import annotations

import base64

import pytest

from builder.secrets import SecretRestrictedError, decrypt
from estafette.lib.crypt import installation_key
from estafette.testing import client_for, make_user

pytestmark = pytest.mark.django_db
URL = "/api/manifest/encrypt"


def test_it_encrypts_a_value_for_the_pipelines_of_the_allow_list() -> None:
    # given
    client = client_for(make_user(staff=True))

    # when
    response = client.post(URL, {"value": "  hunter22  ", "pipelineAllowList": "github.com/acme/api"}, format="json")

    # then
    assert response.status_code == 200, response.content
    secret = response.json()["secret"]
    assert secret.startswith("estafette.secret(") and "hunter22" not in secret
    assert decrypt(secret, key=installation_key(), pipeline="github.com/acme/api") == "hunter22"
    with pytest.raises(SecretRestrictedError):
        decrypt(secret, key=installation_key(), pipeline="github.com/acme/web")


def test_it_makes_global_secrets_and_base64_encodes_on_request() -> None:
    client = client_for(make_user(staff=True))

    response = client.post(URL, {"value": "abc123", "base64": True}, format="json")

    assert response.status_code == 200
    plaintext = decrypt(response.json()["secret"], key=installation_key(), pipeline="local/any/repo")
    assert plaintext == base64.b64encode(b"abc123").decode()


def test_it_refuses_anonymous_callers_and_bad_input() -> None:
    assert client_for().post(URL, {"value": "x"}, format="json").status_code == 401
    client = client_for(make_user(staff=True))
    missing = client.post(URL, {}, format="json")
    assert missing.status_code == 400
    assert missing.json()["message"].startswith("value:")
    bad_regex = client.post(URL, {"value": "x", "pipelineAllowList": "github.com/(acme"}, format="json")
    assert bad_regex.status_code == 400
    assert "pipelineAllowList" in bad_regex.json()["message"]
