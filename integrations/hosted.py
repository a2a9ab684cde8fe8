"""What every forge that hosts repositories behind an app shares (``integrations/github``, ``integrations/bitbucket``).

- **Where a delivery may point.** A repository URL from a webhook body is where the job's token goes: it must be on
  the forge the server is configured for (host and port), over TLS unless that forge itself is plain http (a test's),
  and pass the git intake's location checks (``repository_on_forge``).
- **Errors.** A request to the forge fails with ``ForgeError``, whose ``permanent`` says whether repeating it can
  succeed (``answer_is_permanent``: 4xx but a rate limit); its message names the request, never a header.
- **Files.** A manifest read through a forge's API is streamed and cut off past the manifest limit (``read_capped``).
- **Pushes.** A published push names the forge, clone URL, pipeline, branch, revision and the pushed commits in one
  shape (``ForgePush``), checked again by the consumer (``forge_push_read``: an event on the queue is input too); its
  build is keyed on pipeline, branch and revision, so every delivery of the same push makes one build.
- **Trigger payloads.** The raw body a ``github``/``bitbucket`` trigger event carries (``payload``) is bounded
  (``trigger_payload``); a larger one is replaced by a summary that says it was cut.
- **Clone tokens.** The token a job clones with is sealed like a manifest's secret, for the pipeline only
  (``sealed_clone_credential``): dispatch re-keys it for the job and the builder's credential helper opens it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from builder.contracts import Credential
from builder.manifest.limits import MAX_MANIFEST_BYTES
from estafette.lib.crypt import secret_encrypt
from integrations.errors import IntegrationError
from integrations.git.client import without_credentials
from integrations.git.forge import GitForge
from integrations.git.identity import InvalidRepository, RepositoryIdentity, identify_repository
from integrations.git.webhook import InvalidPush, validate_branch
from triggers.forges import InvalidSource, PushedCommit, PushedRevision, RepositoryName

MANIFEST_PATH = ".estafette.yaml"
# The most of a webhook's raw body a trigger event carries as ``payload``. The job gets it as one environment variable
# (ESTAFETTE_TRIGGER_GITHUB_PAYLOAD, in every stage), and Linux refuses to exec a program with one environment string
# over 128 KiB (MAX_ARG_STRLEN: E2BIG, so every stage would fail to start); the event itself must also fit NATS's
# default max_payload (1 MiB) twice over: the trigger-fired event carries it again. GitHub sends up to 25 MiB.
MAX_TRIGGER_PAYLOAD_BYTES = 96 * 1024
_SUMMARY_TEXT_CHARS = 256  # each string a cut payload's summary keeps, at most
MAX_COMMIT_MESSAGE_CHARS = 8 * 1024  # of each pushed commit's message a push event carries
MAX_COMMITS = 20  # the pushed commits a build records (GitHub sends at most 20 in a push too)
_REVISION = re.compile(r"^[0-9a-f]{40}$")


class ForgeError(IntegrationError):
    """A request to a forge failed; the message is safe to show. ``permanent``: repeating it cannot succeed."""


class InvalidLocation(ValueError):
    """A repository URL that is not on the configured forge; the message says why."""


def answer_is_permanent(response: requests.Response) -> bool:
    """4xx is the request's fault (retrying repeats it), except a rate limit (429), which passes; 5xx passes too."""
    return not (response.status_code == 429 or response.status_code >= 500)


TIMEOUT_SECONDS = 10.0


def forge_request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    path: str,
    forge: str,
    error: type[ForgeError],
    headers: Mapping[str, str],
    is_permanent: Callable[[requests.Response], bool] = answer_is_permanent,
    missing_ok: bool = False,
    **options: Any,
) -> requests.Response | None:
    """One request to a forge, never following a redirect (a token must not travel on); None for a 404 when
    ``missing_ok``; ``error`` naming ``method path`` and the forge's status otherwise (never a header)."""
    try:
        response = session.request(
            method, url, headers=dict(headers), timeout=TIMEOUT_SECONDS, allow_redirects=False, **options
        )
    except requests.RequestException as failure:
        raise error(f"{method} {path}: {forge} cannot be reached ({type(failure).__name__})") from None
    if response.status_code == 404 and missing_ok:
        response.close()
        return None
    if response.status_code >= 300:
        response.close()
        raise error(f"{method} {path}: {forge} answered {response.status_code}", permanent=is_permanent(response))
    return response


def json_object(
    response: requests.Response | None, *, method: str, path: str, forge: str, error: type[ForgeError]
) -> dict[str, Any]:
    """A forge's answer as a JSON object; ``error`` when it is not one."""
    assert response is not None
    try:
        data = response.json()
    except ValueError:
        raise error(f"{method} {path}: {forge} answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise error(f"{method} {path}: {forge} answered JSON that is not an object")
    return data


def read_capped(response: requests.Response, *, what: str, limit: int = MAX_MANIFEST_BYTES) -> bytes:
    """The body of a streamed answer; a permanent ``ForgeError`` once it grows past ``limit`` (reading stops)."""
    with response:
        content = b""
        for chunk in response.iter_content(64 * 1024):
            content += chunk
            if len(content) > limit:
                raise ForgeError(f"{what} is larger than {limit} bytes", permanent=True)
    return content


def default_port(url: str) -> int | None:
    parts = urlsplit(url.strip())
    try:
        return parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:
        return None


def repository_on_forge(
    field: str, url: str, *, forge_url: str, host: str, setting: str, error: type[ValueError] = InvalidLocation
) -> RepositoryIdentity:
    """The identity of an http(s) URL of a repository on ``host`` at ``forge_url``'s port (owner and name
    case-folded), after the git intake's location checks; ``InvalidLocation`` naming ``setting`` otherwise."""
    scheme = urlsplit(url.strip()).scheme.lower() if "://" in url else ""
    # The token goes where the URL points: over TLS, unless the configured forge itself is plain http (a test's).
    allowed = ("https", "http") if forge_url.lower().startswith("http://") else ("https",)
    if scheme not in allowed:
        raise error(f"{field} {url!r} must be an {allowed[0]} URL")
    try:
        identity = identify_repository(url)
    except InvalidRepository as invalid:
        raise error(f"{field}: {invalid}") from None
    if identity.source != host or default_port(url) != default_port(forge_url):
        raise error(f"{field} {url!r} is not on {host}, the forge this server is configured for ({setting})")
    return RepositoryIdentity(identity.source, identity.owner.casefold(), identity.name.casefold())


def sealed_clone_credential(*, name: str, type: str, token: str, repository: RepositoryName) -> Credential:
    """The token as the credential the builder's git-clone reads, sealed like a manifest's secret, for this pipeline
    only: dispatch re-keys it for the job (the configuration a runner writes down holds no usable token without the
    job's own key) and the builder opens and masks it."""
    sealed = secret_encrypt(value=token, allow_list=re.escape(repository.full_name))
    return Credential(name=name, type=type, additional_properties={"token": sealed})


def trigger_payload(body: bytes, payload: Mapping[str, Any]) -> str:
    """The ``payload`` field of a forge's trigger event: the raw body, or past ``MAX_TRIGGER_PAYLOAD_BYTES`` a JSON
    summary of it: ``{"truncated": true, "bytes": <the body's size>, …}`` with the body's top-level plain fields
    (``ref``, ``before``, ``after``, ``action``…) and the plain fields of its top-level objects (``repository.
    full_name``, ``sender.login``, ``installation.id``, ``head_commit.id``…), strings cut to 256 characters. The
    trigger's own fields (event, repository, delivery) are unaffected; a job that needs all of it reads it from the
    forge's API."""
    if len(body) <= MAX_TRIGGER_PAYLOAD_BYTES:
        return body.decode("utf-8")
    summary: dict[str, Any] = {"truncated": True, "bytes": len(body)}
    for key, value in payload.items():
        if isinstance(value, Mapping):
            plain = {name: _plain(inner) for name, inner in value.items() if _is_plain(inner)}
            summary.setdefault(key, plain)
        elif _is_plain(value):
            summary.setdefault(key, _plain(value))
    text = json.dumps(summary, separators=(",", ":"))
    if len(text.encode()) > MAX_TRIGGER_PAYLOAD_BYTES:  # a body of thousands of fields: only the marker is left
        text = json.dumps({"truncated": True, "bytes": len(body)}, separators=(",", ":"))
    return text


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _plain(value: Any) -> Any:
    return value[:_SUMMARY_TEXT_CHARS] if isinstance(value, str) else value


def recorded_commit(*, message: Any, email: Any, name: Any, username: Any) -> dict[str, Any]:
    """A pushed commit as a push event carries it (and a build records it), its texts cut to a bound: the push
    event must fit NATS's max_payload (1 MiB) whatever the delivery holds (20 commits of 8 Ki characters of up to
    4 bytes each is 640 KiB at most)."""

    def text(value: Any, limit: int) -> str:
        return str(value or "")[:limit]

    return {
        "message": text(message, MAX_COMMIT_MESSAGE_CHARS),
        "author": {"email": text(email, 256), "name": text(name, 256), "username": text(username, 256)},
    }


@dataclass(frozen=True)
class ForgePush:
    """A push to a branch of a repository a forge hosts, as its webhook publishes it on the git subject."""

    forge: str
    clone_url: str
    pipeline: str  # source/owner/name, as the forge spells them
    branch: str
    revision: str
    commits: tuple[Mapping[str, Any], ...]  # newest first, each as ``recorded_commit`` makes it
    extra: Mapping[str, Any]  # what only this forge needs to read the push (GitHub's installation id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "push",
            "forge": self.forge,
            "repository": self.clone_url.strip(),
            "pipeline": self.pipeline,
            "branch": self.branch,
            "revision": self.revision,
            **self.extra,
            "commits": [dict(commit) for commit in self.commits],
        }


def check_revision(revision: Any) -> str:
    if not isinstance(revision, str) or not _REVISION.fullmatch(revision):
        raise InvalidPush(f"revision {revision!r} is not a full commit id")
    return revision


def forge_push_read(payload: Mapping[str, Any], *, forge: str) -> tuple[str, RepositoryName, str, str]:
    """The clone URL, pipeline, branch and revision of a published push of ``forge``, checked again (the pipeline
    must still be checked against the clone URL by the forge, which knows its host); ``InvalidSource``."""
    if payload.get("forge") != forge:
        raise InvalidSource(f"not a push of {forge} (forge {payload.get('forge')!r})")
    fields = {name: payload.get(name) for name in ("repository", "pipeline", "branch", "revision")}
    if not all(isinstance(value, str) and value for value in fields.values()):
        raise InvalidSource(f"a push of {forge} needs repository, pipeline, branch and revision")
    clone_url, pipeline, branch, revision = (str(value) for value in fields.values())
    try:
        branch = validate_branch(branch)
        revision = check_revision(revision)
    except InvalidPush as error:
        raise InvalidSource(str(error)) from None
    source, owner, name = [*pipeline.split("/"), "", "", ""][:3]
    return clone_url, RepositoryName(source=source, owner=owner, name=name), branch, revision


def same_repository(repository: RepositoryName, identity: RepositoryIdentity) -> bool:
    """Whether the pipeline a push names is the repository its clone URL is (``identity`` is case-folded)."""
    named = (repository.source, repository.owner.casefold(), repository.name.casefold())
    return named == (identity.source, identity.owner, identity.name)


def pushed_revision(
    *,
    forge: str,
    payload: Mapping[str, Any],
    repository: RepositoryName,
    clone_url: str,
    branch: str,
    revision: str,
    manifest: bytes | None,
) -> PushedRevision:
    """The revision a forge's push names, with its manifest; one build per pipeline, branch and revision."""
    commits = tuple(_commit(item) for item in payload.get("commits") or () if isinstance(item, Mapping))
    natural = f"{repository.full_name.casefold()}\n{branch}\n{revision}"
    return PushedRevision(
        event_id=f"{forge}-push-{hashlib.sha256(natural.encode()).hexdigest()[:40]}",
        repository=repository,
        branch=branch,
        revision=revision,
        repo_url=without_credentials(clone_url),
        manifest=manifest,
        commit=commits[0] if commits else PushedCommit(message="", author_email="", author_name=""),
        commits=commits,
    )


def _commit(item: Mapping[str, Any]) -> PushedCommit:
    author = item.get("author") if isinstance(item.get("author"), Mapping) else {}
    assert isinstance(author, Mapping)
    return PushedCommit(
        message=str(item.get("message") or ""),
        author_email=str(author.get("email") or ""),
        author_name=str(author.get("name") or ""),
        author_username=str(author.get("username") or ""),
    )


class HostedForge:
    """What a hosted forge answers the same way whoever hosts it (``triggers.forges.Forge``): naming a pipeline after
    a location, and reading a published push — checked again, its clone URL on the forge and naming its pipeline —
    with the forge's ``read_manifest`` (a permanent ``ForgeError`` there: nothing to build, no retry)."""

    name: str

    def check_clone_url(self, clone_url: str) -> RepositoryIdentity:
        """The identity of a push's clone URL; a ``ValueError`` saying why when it is not on this forge."""
        raise NotImplementedError

    def read_manifest(self, payload: Mapping[str, Any], repository: RepositoryName, revision: str) -> bytes | None:
        raise NotImplementedError

    # A hosted repository is named after its URL as any other (the git forge's rule).
    identify = GitForge.identify

    def read_push(self, payload: Mapping[str, Any]) -> PushedRevision:
        clone_url, repository, branch, revision = forge_push_read(payload, forge=self.name)
        try:
            identity = self.check_clone_url(clone_url)
        except ValueError as error:
            raise InvalidSource(str(error)) from None
        if not same_repository(repository, identity):
            raise InvalidSource(f"pipeline {repository.full_name!r} is not the repository of {clone_url!r}")
        try:
            manifest = self.read_manifest(payload, repository, revision)
        except ForgeError as error:
            if error.permanent:
                raise InvalidSource(str(error)) from None
            raise
        return pushed_revision(
            forge=self.name,
            payload=payload,
            repository=repository,
            clone_url=clone_url,
            branch=branch,
            revision=revision,
            manifest=manifest,
        )
