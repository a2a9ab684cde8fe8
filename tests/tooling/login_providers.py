"""Local fakes of GitHub's and Microsoft's login endpoints, real HTTP servers on free ports, for the login tests.

GitHub signs users in with OAuth 2 (it is no OpenID Connect provider for users): ``/login/oauth/authorize`` sends the
browser back with a ``code``, ``/login/oauth/access_token`` exchanges it (with the PKCE ``code_verifier`` when the
authorization had a ``code_challenge``) and the REST API's ``/user`` and ``/user/emails`` say who it is. Their JSON is
not written here: it is ``@octokit/openapi``'s examples of those operations (tests/peers), with this fake user's
values, each answer validated against the operation's response schema and each request checked against the operation
(``integrations.github.testing.GitHubOpenApi``); what does not pass is recorded in ``violations``. The token
endpoint, which GitHub's REST description does not cover, answers as GitHub documents it: JSON when asked for JSON,
errors as 200 ``{"error": "bad_verification_code", …}``.

Microsoft is OpenID Connect with a tenant in its URLs: ``/{tenant}/v2.0/.well-known/openid-configuration``, whose
``issuer`` for the multi-tenant endpoints (``common``, ``organizations``) is the template
``…/{tenantid}/v2.0``; each ID token's ``iss`` has the user's tenant id, also in its ``tid`` claim. ID tokens are
RS256, signed with a key the ``/discovery/v2.0/keys`` document publishes; PKCE mismatches are refused as Microsoft
does (400 ``invalid_grant``, AADSTS501481).

Both approve any authorization at once, as for a user already signed in at the provider; ``authorize`` returns the
redirect as a browser would follow it. The tests drive Django's side with its test client.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jsonschema
import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.github.testing import _SPEC_URI, github_openapi

GITHUB_API_PREFIX = "/api/v3"  # a GitHub Enterprise Server's REST API: the fake's web URL is the provider's issuer


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    used: bool = False


class _Server:
    """A threaded HTTP server whose requests go to ``answer(method, path, query, headers, body)``."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = owner.answer(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.grants: dict[str, Grant] = {}
        self.lock = threading.Lock()

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def authorize(self, url: str) -> str:
        """Follows the login redirect to the provider as a browser would; the provider's redirect back (a URL)."""
        answer = requests.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def _grant(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        one = {name: values[0] for name, values in query.items()}
        code = secrets.token_urlsafe(20)
        with self.lock:
            self.grants[code] = Grant(
                client_id=one.get("client_id", ""),
                redirect_uri=one.get("redirect_uri", ""),
                challenge=one.get("code_challenge", "") if one.get("code_challenge_method") == "S256" else "",
                nonce=one.get("nonce", ""),
            )
        back = f"{one['redirect_uri']}?{urlencode({'code': code, 'state': one.get('state', '')})}"
        return 302, {"Location": back}, b""

    def _redeem(
        self, form: dict[str, str], headers: dict[str, str], client_id: str, client_secret: str
    ) -> tuple[Grant | None, str]:
        """The grant of a code for this client, once, or None and what is wrong (GitHub's and Microsoft's checks).
        The client authenticates in the form (client_secret_post) or with HTTP Basic (client_secret_basic)."""
        authorization = headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            form = {**form, "client_id": unquote(user), "client_secret": unquote(password)}
        if form.get("client_id") != client_id or form.get("client_secret") != client_secret:
            return None, "client"
        with self.lock:
            grant = self.grants.get(form.get("code", ""))
            if grant is None or grant.used or grant.redirect_uri != form.get("redirect_uri"):
                return None, "code"
            grant.used = True
        if grant.challenge and s256(form.get("code_verifier", "")) != grant.challenge:
            return None, "verifier"
        return grant, ""


def _json(status: int, data: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(data).encode()


@dataclass
class GitHubUser:
    login: str = "octocat"
    id: int = 583231
    name: str = "The Octocat"
    email: str = "octocat@example.com"
    verified: bool = True


class FakeGitHubLogin(_Server):
    def __init__(self, user: GitHubUser) -> None:
        super().__init__()
        self.user = user
        self.client_id = "Iv1.fake-github-client"
        self.client_secret = secrets.token_hex(20)
        self.tokens: set[str] = set()
        self.openapi = github_openapi()
        self.violations: list[str] = []
        self.api_requests: list[str] = []

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if (method, path) == ("GET", "/login/oauth/authorize"):
            return self._grant(query)
        if (method, path) == ("POST", "/login/oauth/access_token"):
            return self._token(headers, body)
        if path.startswith(GITHUB_API_PREFIX):
            return self._api(method, path.removeprefix(GITHUB_API_PREFIX), query, headers, body)
        return _json(404, {"message": "Not Found"})

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        grant, wrong = self._redeem(form, headers, self.client_id, self.client_secret)
        if grant is None:
            # GitHub answers a refused exchange with 200 and an error object
            error = "incorrect_client_credentials" if wrong == "client" else "bad_verification_code"
            answer = {"error": error, "error_description": f"The {wrong} passed is incorrect or expired."}
        else:
            token = f"gho_{secrets.token_hex(18)}"
            self.tokens.add(token)
            answer = {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}
        if "application/json" not in headers.get("Accept", ""):
            return 200, {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(answer).encode()
        return _json(200, answer)

    def _example(self, path: str) -> Any:
        content = self.openapi.document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        reference = next(iter(content["examples"].values()))
        return copy.deepcopy(self.openapi._resolve(reference)["value"])

    def _validated(self, path: str, data: Any) -> Any:
        """The answer, checked against the operation's 200 schema in GitHub's OpenAPI description."""
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in ("paths", path, "get", "responses", "200", "content", "application/json")
        )
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"{_SPEC_URI}#/{pointer}/schema"}, registry=self.openapi.registry
        )
        self.violations += [f"GET {path} answer: {error.message}" for error in validator.iter_errors(data)]
        return data

    def _api(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        self.api_requests.append(f"{method} {path}")
        problems = self.openapi.problems(method, path, query, body)
        if problems:
            self.violations += problems
            return _json(400, {"message": "; ".join(problems)})
        authorization = headers.get("Authorization", "")
        token = authorization.split(" ", 1)[1] if " " in authorization else ""
        if token not in self.tokens:
            return _json(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        if path == "/user":
            user = self._example("/user")
            user.update(
                login=self.user.login,
                id=self.user.id,
                name=self.user.name,
                email=self.user.email,  # the public profile email; the login reads the verified one of /user/emails
                avatar_url=f"https://avatars.githubusercontent.com/u/{self.user.id}?v=4",
            )
            return _json(200, self._validated("/user", user))
        if path == "/user/emails":
            emails = self._example("/user/emails")
            emails[0].update(email=self.user.email, verified=self.user.verified, primary=True)
            # a second, verified but not primary: the login must take the primary one
            emails.append(
                {
                    "email": f"{self.user.login}@old.example.org",
                    "verified": True,
                    "primary": False,
                    "visibility": "private",
                }
            )
            return _json(200, self._validated("/user/emails", emails))
        return _json(404, {"message": "Not Found"})


@dataclass
class MicrosoftUser:
    tenant: str = field(default_factory=lambda: str(uuid.uuid4()))
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    name: str = "Megan Bowen"
    email: str = "megan@example.com"
    # The optional claim xms_edov (the email's domain is verified as the tenant's); None: not configured, absent.
    email_domain_verified: bool | None = True


class FakeMicrosoftLogin(_Server):
    """Microsoft's identity platform (v2.0 endpoints) for one user; ``iss_tenant`` forges the tenant of ``iss``."""

    def __init__(self, user: MicrosoftUser) -> None:
        super().__init__()
        self.user = user
        self.client_id = str(uuid.uuid4())
        self.client_secret = secrets.token_urlsafe(30)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self.iss_tenant: str | None = None

    def issuer(self, tenant: str) -> str:
        """What to configure as the provider's ``issuer`` (instead of login.microsoftonline.com's)."""
        return f"{self.url}/{tenant}/v2.0"

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = path.strip("/").split("/")
        tenant = parts[0] if parts else ""
        rest = "/".join(parts[1:])
        if method == "GET" and rest == "v2.0/.well-known/openid-configuration":
            return _json(200, self._discovery(tenant))
        if method == "GET" and rest == "discovery/v2.0/keys":
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            return _json(200, {"keys": [{**jwk, "kty": "RSA", "use": "sig", "kid": self.kid}]})
        if method == "GET" and rest == "oauth2/v2.0/authorize":
            return self._grant(query)
        if method == "POST" and rest == "oauth2/v2.0/token":
            return self._token(headers, body)
        return _json(404, {"error": "not_found"})

    def _discovery(self, tenant: str) -> dict[str, Any]:
        # The multi-tenant endpoints publish a template issuer; a tenant's own publishes its issuer.
        issued_by = "{tenantid}" if tenant in {"common", "organizations", "consumers"} else tenant
        base = f"{self.url}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.url}/{issued_by}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "cloud_instance_name",
                "cloud_instance_host_name",
                "cloud_graph_host_name",
                "msgraph_host",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
            ],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        grant, wrong = self._redeem(form, headers, self.client_id, self.client_secret)
        if grant is None:
            descriptions = {
                "client": "AADSTS7000215: Invalid client secret provided.",
                "code": "AADSTS70008: The provided authorization code or refresh token has expired or was redeemed.",
                "verifier": "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the "
                "authorization request.",
            }
            return _json(400, {"error": "invalid_grant", "error_description": descriptions[wrong], "error_codes": []})
        now = int(time.time())
        claims = {
            "aud": self.client_id,
            "iss": f"{self.url}/{self.iss_tenant or self.user.tenant}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "email": self.user.email,
            "name": self.user.name,
            "nonce": grant.nonce,
            "oid": self.user.object_id,
            "preferred_username": self.user.email,
            "rh": "0.AAAA",
            "sub": base64.urlsafe_b64encode(hashlib.sha256(self.user.object_id.encode()).digest()[:24]).decode(),
            "tid": self.user.tenant,
            "uti": secrets.token_urlsafe(16),
            "ver": "2.0",
        }
        if self.user.email_domain_verified is not None:
            claims["xms_edov"] = self.user.email_domain_verified
        id_token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return _json(
            200,
            {
                "token_type": "Bearer",
                "scope": "openid profile email",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": secrets.token_urlsafe(40),
                "id_token": id_token,
            },
        )


@contextmanager
def running(server: _Server) -> Iterator[Any]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
