"""The only module that speaks HTTP to GitHub: the GitHub App's own token, installation tokens, files, commit statuses.

A GitHub App proves who it is with a short JSON Web Token signed RS256 by its private key (``iss`` = the app's id),
and with it asks for an *installation access token* (``POST /app/installations/{id}/access_tokens``): that token
reads the repositories the app is installed on and writes their statuses, for an hour. Tokens are kept in memory, per
app and installation, until five minutes before they expire, so a push, its job's clone and its statuses share one.

Neither token reaches a log line, an exception's text or the database: errors name the request (method and path)
and GitHub's status, never a header. Owners, repository names and revisions come from webhook bodies, so each is
checked (``check_segment``/``check_revision``) before it goes into a URL.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

from integrations.hosted import ForgeError, answer_is_permanent, forge_request, json_object, read_capped

API_VERSION = "2022-11-28"
USER_AGENT = "estafette-ci"
JWT_LIFETIME_SECONDS = 9 * 60  # GitHub accepts at most 10 minutes
JWT_CLOCK_SKEW_SECONDS = 60  # issued a minute in the past, as GitHub advises, against clocks that drift
TOKEN_REFRESH_MARGIN_SECONDS = 5 * 60  # an installation token is renewed this long before it expires
# GitHub's rules for an account (owner) or a repository name; "." and ".." are refused separately.
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_REVISION = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")


class GitHubError(ForgeError):
    """A request to GitHub failed; the message is safe to show. ``permanent``: repeating it cannot succeed."""


class GitHubNotConfigured(GitHubError):
    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


def check_segment(kind: str, value: str) -> str:
    """An owner or repository name that is safe in a URL path; ``GitHubError`` (permanent) otherwise."""
    if not _SEGMENT.fullmatch(value) or value in (".", ".."):
        raise GitHubError(f"{kind} {value!r} is not a GitHub owner or repository name", permanent=True)
    return value


def check_revision(revision: str) -> str:
    if not _REVISION.fullmatch(revision):
        raise GitHubError(f"revision {revision!r} is not a full commit id", permanent=True)
    return revision


def web_host(api_url: str) -> str:
    """The host of the GitHub that ``api_url`` is the API of: ``github.com`` for ``api.github.com``, else the API's
    own host (GitHub Enterprise Server serves its API under ``https://<host>/api/v3``)."""
    host = (urlsplit(api_url).hostname or "").lower()
    return "github.com" if host == "api.github.com" else host


@dataclass(frozen=True)
class GitHubApp:
    app_id: str
    private_key: str  # PEM
    api_url: str

    def __repr__(self) -> str:  # the key stays out of tracebacks
        return f"GitHubApp(app_id={self.app_id!r}, api_url={self.api_url!r})"

    def jwt(self, *, now: float | None = None) -> str:
        """The app's own token (RS256, ``iss`` = the app id), valid for ``JWT_LIFETIME_SECONDS``."""
        issued = int(now if now is not None else time.time()) - JWT_CLOCK_SKEW_SECONDS
        claims = {"iat": issued, "exp": issued + JWT_CLOCK_SKEW_SECONDS + JWT_LIFETIME_SECONDS, "iss": self.app_id}
        # Here, not at the top: PyJWT loads ``cryptography`` (~7 MB), which only a process that talks to GitHub needs.
        import jwt

        try:
            return jwt.encode(claims, self.private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as error:
            # The library's message can quote the key material: name the setting only.
            raise GitHubNotConfigured(
                f"the GitHub App's private key cannot sign ({type(error).__name__}): set "
                "ESTAFETTE_GITHUB_APP_PRIVATE_KEY_FILE to the app's PEM private key"
            ) from None


@dataclass(frozen=True)
class _CachedToken:
    token: str
    expires_at: float


_tokens: dict[tuple[str, str, int], _CachedToken] = {}
# The app's installation on a repository changes when the app is installed anew (rarely): known for a while.
INSTALLATION_CACHE_SECONDS = 10 * 60
_installations: dict[tuple[str, str, str, str], tuple[int, float]] = {}
_app_tokens: dict[tuple[str, str], _CachedToken] = {}
_tokens_lock = threading.Lock()


def forget_tokens() -> None:
    """Drop every cached token and installation (tests; a key rotation)."""
    with _tokens_lock:
        _tokens.clear()
        _installations.clear()
        _app_tokens.clear()


class GitHubClient:
    """GitHub's REST API as the app uses it. ``session``: a ``requests.Session`` (tests pass their own)."""

    def __init__(self, app: GitHubApp, *, session: requests.Session | None = None) -> None:
        self.app = app
        self.session = session or requests.Session()

    # -- tokens ----------------------------------------------------------------------------------------
    def app_token(self) -> str:
        """The app's JWT, signed again a minute before it expires (signing RS256 costs a millisecond or two)."""
        key, moment = (self.app.api_url, self.app.app_id), time.time()
        with _tokens_lock:
            cached = _app_tokens.get(key)
        if cached is not None and cached.expires_at - JWT_CLOCK_SKEW_SECONDS > moment:
            return cached.token
        token = self.app.jwt(now=moment)
        with _tokens_lock:
            _app_tokens[key] = _CachedToken(token, moment + JWT_LIFETIME_SECONDS)
        return token

    def installation_token(self, installation_id: int, *, now: float | None = None) -> str:
        """An access token of the installation, from the cache while it has more than the margin left."""
        key = (self.app.api_url, self.app.app_id, installation_id)
        moment = now if now is not None else time.time()
        with _tokens_lock:
            cached = _tokens.get(key)
        if cached is not None and cached.expires_at - TOKEN_REFRESH_MARGIN_SECONDS > moment:
            return cached.token
        answer = self._json(
            "POST", f"/app/installations/{int(installation_id)}/access_tokens", auth=f"Bearer {self.app_token()}"
        )
        token, expires = answer.get("token"), answer.get("expires_at")
        if not isinstance(token, str) or not token or not isinstance(expires, str):
            raise GitHubError("GitHub answered an access token request without token and expires_at")
        try:
            expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise GitHubError(f"GitHub answered an unreadable expires_at {expires!r}") from None
        with _tokens_lock:
            _tokens[key] = _CachedToken(token, expires_at)
        return token

    def repository_installation(self, owner: str, repo: str) -> int | None:
        """The id of the app's installation on a repository (known for ``INSTALLATION_CACHE_SECONDS``); None when the
        app is not installed there (asked again next time)."""
        key = (self.app.api_url, self.app.app_id, owner.casefold(), repo.casefold())
        moment = time.time()
        with _tokens_lock:
            cached = _installations.get(key)
        if cached is not None and cached[1] > moment:
            return cached[0]
        path = f"/repos/{_path(owner, repo)}/installation"
        response = self._request("GET", path, auth=f"Bearer {self.app_token()}", missing_ok=True)
        if response is None:
            return None
        installation = _json_of(response, "GET", path).get("id")
        if not isinstance(installation, int) or isinstance(installation, bool):
            return None
        with _tokens_lock:
            _installations[key] = (installation, moment + INSTALLATION_CACHE_SECONDS)
        return installation

    def remember_installation(self, owner: str, repo: str, installation_id: int) -> None:
        """What a delivery said: the app's installation on a repository (saves asking GitHub for it)."""
        key = (self.app.api_url, self.app.app_id, owner.casefold(), repo.casefold())
        with _tokens_lock:
            _installations[key] = (installation_id, time.time() + INSTALLATION_CACHE_SECONDS)

    # -- repositories ----------------------------------------------------------------------------------
    def file_at(self, *, installation_id: int, owner: str, repo: str, path: str, ref: str) -> bytes | None:
        """A file's bytes at a commit (the contents API, raw); None when the commit has no such file.

        Raises a permanent ``GitHubError`` for a file larger than a manifest may be."""
        url_path = f"/repos/{_path(owner, repo)}/contents/{quote(path)}"
        token = self.installation_token(installation_id)
        response = self._request(
            "GET",
            url_path,
            auth=f"Bearer {token}",
            params={"ref": check_revision(ref)},
            accept="application/vnd.github.raw+json",
            missing_ok=True,
            stream=True,
        )
        if response is None:
            return None
        try:
            return read_capped(response, what=path)
        except ForgeError as error:
            raise GitHubError(str(error), permanent=True) from None

    def create_status(
        self,
        *,
        installation_id: int,
        owner: str,
        repo: str,
        sha: str,
        state: str,
        target_url: str,
        description: str,
        context: str,
    ) -> None:
        """Set a commit status (``POST /repos/{owner}/{repo}/statuses/{sha}``)."""
        token = self.installation_token(installation_id)
        body = {"state": state, "target_url": target_url, "description": description[:140], "context": context}
        self._json(
            "POST", f"/repos/{_path(owner, repo)}/statuses/{check_revision(sha)}", auth=f"Bearer {token}", json=body
        )

    # -- HTTP ------------------------------------------------------------------------------------------
    def _json(self, method: str, path: str, *, auth: str, json: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self._request(method, path, auth=auth, json=json)
        assert response is not None
        return _json_of(response, method, path)

    def _request(
        self,
        method: str,
        path: str,
        *,
        auth: str,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        accept: str = "application/vnd.github+json",
        missing_ok: bool = False,
        stream: bool = False,
    ) -> requests.Response | None:
        headers = {
            "Accept": accept,
            "Authorization": auth,
            "User-Agent": USER_AGENT,
            "X-GitHub-Api-Version": API_VERSION,
        }
        return forge_request(
            self.session,
            method,
            self.app.api_url + path,
            path=path,
            forge="GitHub",
            error=GitHubError,
            headers=headers,
            is_permanent=_is_permanent,
            missing_ok=missing_ok,
            json=json,
            params=params,
            stream=stream,
        )


def _path(owner: str, repo: str) -> str:
    return f"{check_segment('owner', owner)}/{check_segment('repository', repo)}"


def _json_of(response: requests.Response, method: str, path: str) -> dict[str, Any]:
    return json_object(response, method=method, path=path, forge="GitHub", error=GitHubError)


def _is_permanent(response: requests.Response) -> bool:
    """As for any forge (``answer_is_permanent``), and GitHub's rate limit is also a 403 with no requests left."""
    rate_limited = response.status_code == 403 and response.headers.get("X-RateLimit-Remaining") == "0"
    return answer_is_permanent(response) and not rate_limited


def github_app() -> GitHubApp:
    """The app the server is configured as; ``GitHubNotConfigured`` naming what to set when it is not."""
    if not settings.GITHUB_APP_ID or not settings.GITHUB_APP_PRIVATE_KEY:
        raise GitHubNotConfigured(
            "the GitHub App is not configured: set ESTAFETTE_GITHUB_APP_ID and ESTAFETTE_GITHUB_APP_PRIVATE_KEY_FILE "
            "(or integrations.github in ESTAFETTE_CONFIG_FILE)"
        )
    return GitHubApp(
        app_id=settings.GITHUB_APP_ID, private_key=settings.GITHUB_APP_PRIVATE_KEY, api_url=settings.GITHUB_API_URL
    )


def github_client() -> GitHubClient:
    return GitHubClient(github_app())
