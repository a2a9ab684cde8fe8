"""The only module that speaks HTTP to Bitbucket: access tokens, files at a commit, build statuses.

A Connect app reads repositories and writes statuses with an OAuth access token of the installation, which it gets by
swapping a JWT of its own (``connect.app_token``: ``iss`` the app's key, ``sub`` the installation's client key,
signed with its shared secret) at ``POST <site>/site/oauth2/access_token`` (grant type ``urn:bitbucket:oauth2:jwt``).
Tokens are kept in memory per installation until five minutes before they expire, so a push, its job's clone and its
statuses share one.

Neither the shared secret nor a token reaches a log line, an exception's text or the database: errors name the
request (method and path) and Bitbucket's status, never a header. Workspaces, repository slugs and revisions come
from webhook bodies, so each is checked before it goes into a URL.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from integrations.bitbucket.connect import AUTH_SCHEME, app_token
from integrations.hosted import ForgeError, forge_request, json_object, read_capped

TOKEN_PATH = "/site/oauth2/access_token"  # noqa: S105 - a path, not a secret
JWT_GRANT = "urn:bitbucket:oauth2:jwt"
TOKEN_REFRESH_MARGIN_SECONDS = 5 * 60
USER_AGENT = "estafette-ci"
# Bitbucket's rules for a workspace id and a repository slug; "." and ".." are refused separately.
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_REVISION = re.compile(r"^[0-9a-f]{40}$")


class BitbucketError(ForgeError):
    """A request to Bitbucket failed; the message is safe to show. ``permanent``: repeating it cannot succeed."""


@dataclass(frozen=True)
class Credentials:
    """What the app signs its requests for one installation with."""

    app_key: str
    client_key: str
    shared_secret: str

    def __repr__(self) -> str:  # the secret stays out of tracebacks
        return f"Credentials(app_key={self.app_key!r}, client_key={self.client_key!r})"


@dataclass(frozen=True)
class _CachedToken:
    token: str
    expires_at: float


_tokens: dict[tuple[str, str], _CachedToken] = {}
_tokens_lock = threading.Lock()


def forget_tokens() -> None:
    """Drop every cached token (tests; an installation uninstalled or renewed)."""
    with _tokens_lock:
        _tokens.clear()


def check_segment(kind: str, value: str) -> str:
    if not _SEGMENT.fullmatch(value) or value in (".", ".."):
        raise BitbucketError(f"{kind} {value!r} is not a Bitbucket workspace or repository slug", permanent=True)
    return value


def check_revision(revision: str) -> str:
    if not _REVISION.fullmatch(revision):
        raise BitbucketError(f"revision {revision!r} is not a full commit id", permanent=True)
    return revision


class BitbucketClient:
    """Bitbucket Cloud's API as the app uses it. ``session``: a ``requests.Session`` (tests pass their own)."""

    def __init__(self, *, api_url: str, web_url: str, session: requests.Session | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.web_url = web_url.rstrip("/")
        self.session = session or requests.Session()

    # -- tokens ----------------------------------------------------------------------------------------------------
    def access_token(self, credentials: Credentials, *, fresh: bool = False) -> str:
        """An access token of the installation, from the cache while it has more than the margin left (``fresh``:
        ask Bitbucket anyway, to prove the installation is one it knows)."""
        key, moment = (self.web_url, credentials.client_key), time.time()
        with _tokens_lock:
            cached = _tokens.get(key)
        if not fresh and cached is not None and cached.expires_at - TOKEN_REFRESH_MARGIN_SECONDS > moment:
            return cached.token
        grant = app_token(
            app_key=credentials.app_key,
            client_key=credentials.client_key,
            shared_secret=credentials.shared_secret,
            method="POST",
            path=TOKEN_PATH,
            now=moment,
        )
        response = self._send(
            "POST", self.web_url + TOKEN_PATH, TOKEN_PATH, auth=f"{AUTH_SCHEME} {grant}", data={"grant_type": JWT_GRANT}
        )
        answer = _json_of(response, "POST", TOKEN_PATH)
        token, lifetime = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise BitbucketError("Bitbucket answered an access token request without access_token and expires_in")
        with _tokens_lock:
            _tokens[key] = _CachedToken(token, moment + float(lifetime))
        return token

    # -- repositories ----------------------------------------------------------------------------------------------
    def file_at(self, *, credentials: Credentials, workspace: str, repo: str, revision: str, path: str) -> bytes | None:
        """A file's bytes at a commit (``GET /2.0/repositories/{workspace}/{repo}/src/{commit}/{path}``); None when
        the commit has no such file. A permanent ``BitbucketError`` for one larger than a manifest may be."""
        url_path = f"/2.0/repositories/{_path(workspace, repo)}/src/{check_revision(revision)}/{quote(path)}"
        token = self.access_token(credentials)
        response = self._send(
            "GET", self.api_url + url_path, url_path, auth=f"Bearer {token}", missing_ok=True, stream=True
        )
        if response is None:
            return None
        try:
            return read_capped(response, what=path)
        except ForgeError as error:
            raise BitbucketError(str(error), permanent=True) from None

    def create_status(
        self,
        *,
        credentials: Credentials,
        workspace: str,
        repo: str,
        sha: str,
        state: str,
        key: str,
        name: str,
        url: str,
        description: str,
    ) -> None:
        """Set a commit's build status (``POST /2.0/repositories/{workspace}/{repo}/commit/{sha}/statuses/build``);
        a status of the same ``key`` replaces the previous one."""
        url_path = f"/2.0/repositories/{_path(workspace, repo)}/commit/{check_revision(sha)}/statuses/build"
        token = self.access_token(credentials)
        body = {
            "type": "commitstatus",
            "key": key,
            "state": state,
            "name": name[:255],
            "url": url,
            "description": description[:255],
        }
        response = self._send("POST", self.api_url + url_path, url_path, auth=f"Bearer {token}", json=body)
        assert response is not None
        response.close()

    # -- HTTP ------------------------------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        url: str,
        path: str,
        *,
        auth: str,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        missing_ok: bool = False,
        stream: bool = False,
    ) -> requests.Response | None:
        headers = {"Accept": "application/json", "Authorization": auth, "User-Agent": USER_AGENT}
        return forge_request(
            self.session,
            method,
            url,
            path=path,
            forge="Bitbucket",
            error=BitbucketError,
            headers=headers,
            missing_ok=missing_ok,
            json=json,
            data=data,
            stream=stream,
        )


def _path(workspace: str, repo: str) -> str:
    return f"{check_segment('workspace', workspace)}/{check_segment('repository', repo)}"


def _json_of(response: requests.Response | None, method: str, path: str) -> dict[str, Any]:
    return json_object(response, method=method, path=path, forge="Bitbucket", error=BitbucketError)


def bitbucket_client() -> BitbucketClient:
    return BitbucketClient(api_url=settings.BITBUCKET_API_URL, web_url=settings.BITBUCKET_URL)
