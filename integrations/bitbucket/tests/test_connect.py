"""Atlassian Connect's JWT: our query string hash against Atlassian's own library (PyPI ``atlassian-jwt``) as the
oracle, tokens that library makes accepted, and the app's descriptor."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

import pytest
from atlassian_jwt import encode_token
from atlassian_jwt.url_utils import hash_url
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from integrations.bitbucket.connect import InvalidToken, query_string_hash, verify_request

SECRET = "a-shared-secret-of-the-installation"
GUESSED = "a-guessed-secret-of-thirty-two-bytes"
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


@pytest.mark.parametrize(
    "url",
    [
        "/api/integrations/bitbucket/events",
        "/api/integrations/bitbucket/events/",
        "/",
        "",
        "/path/to/service?zee_last=param&repeated=parameter 1&first=param&repeated=parameter 2",
        "/a&b?jwt=ignored&x=%2F&y=a b&z=~-_.",
        "/q?empty=&k=v,w",
    ],
)
def test_the_query_string_hash_is_atlassians(url: str) -> None:
    path, _, query = url.partition("?")
    assert query_string_hash("post", path, parse_qs(query, keep_blank_values=True)) == hash_url("POST", url)


@given(
    path=st.lists(st.text(alphabet="abcXYZ019-_.~&", min_size=1, max_size=8), max_size=4),
    query=st.lists(st.tuples(_TEXT.filter(bool), _TEXT), max_size=5),
)
def test_the_query_string_hash_is_atlassians_for_any_path_and_query(path: list[str], query: list[tuple]) -> None:
    url_path = "/" + "/".join(path)
    encoded = urlencode(query)
    url = f"{url_path}?{encoded}" if encoded else url_path
    assert query_string_hash("GET", url_path, parse_qs(encoded, keep_blank_values=True)) == hash_url("GET", url)


def test_a_token_atlassians_library_signs_for_the_request_is_accepted() -> None:
    token = encode_token("POST", "/api/integrations/bitbucket/events", "client-1", SECRET, timeout_secs=180)

    verified = verify_request(
        token,
        method="POST",
        path="/api/integrations/bitbucket/events",
        query={},
        secret_of={"client-1": SECRET}.get,
    )

    assert verified.client_key == "client-1"


@pytest.mark.parametrize(
    ("sign", "reason"),
    [
        (lambda: encode_token("POST", "/api/other", "client-1", SECRET), "qsh"),
        (lambda: encode_token("GET", "/api/integrations/bitbucket/events", "client-1", SECRET), "qsh"),
        (
            lambda: encode_token(
                "POST", "/api/integrations/bitbucket/events", "client-1", "a-guessed-secret-of-thirty-two-bytes"
            ),
            "shared secret",
        ),
        (lambda: encode_token("POST", "/api/integrations/bitbucket/events", "client-2", SECRET), "does not know"),
        (lambda: encode_token("POST", "/api/integrations/bitbucket/events", "client-1", SECRET, -300), "expired"),
        (lambda: encode_token("POST", "/api/integrations/bitbucket/events", "client-1", SECRET, 86400), "too long"),
        (lambda: "not.a.jwt", "cannot be read"),
        (lambda: "", "no 'Authorization: JWT"),
    ],
    ids=["other path", "other method", "wrong secret", "unknown key", "expired", "long-lived", "garbage", "missing"],
)
def test_a_token_that_does_not_prove_this_request_is_refused_saying_why(sign, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        verify_request(
            sign(),
            method="POST",
            path="/api/integrations/bitbucket/events",
            query={},
            secret_of={"client-1": SECRET}.get,
        )


@pytest.mark.django_db
def test_the_descriptor_names_the_lifecycle_callbacks_and_the_webhooks(settings) -> None:
    settings.BASE_URL = "https://ci.example.com"

    response = APIClient().get("/api/integrations/bitbucket/descriptor")

    assert response.status_code == 200
    descriptor = response.json()
    assert descriptor["key"] == settings.BITBUCKET_APP_KEY
    assert descriptor["baseUrl"] == "https://ci.example.com"
    assert descriptor["authentication"] == {"type": "jwt"}
    assert descriptor["lifecycle"] == {
        "installed": "/api/integrations/bitbucket/installed",
        "uninstalled": "/api/integrations/bitbucket/uninstalled",
    }
    hooks = descriptor["modules"]["webhooks"]
    assert {hook["event"] for hook in hooks} == {"repo:push", "repo:updated", "repo:deleted"}
    assert {hook["url"] for hook in hooks} == {"/api/integrations/bitbucket/events"}
