"""Replay a server build locally: ``python -m builder replay <build-url> [--token …] [--secrets-file …]
[--checkout DIR] [--executor …]``.

It reads ``GET /api/pipelines/{source}/{owner}/{name}/builds/{id}/replay`` with the developer's API token (the job's
builder configuration and ``ESTAFETTE_*`` variables, without the job token or credentials), checks out the build's
revision (a fresh clone of the repository, or ``--checkout DIR`` when its HEAD reaches the revision), and runs the
build's stages there with the local builder (``builder.local.run_config``), with the server build's variables.

Secrets: the server never decrypts them for a replay. Each ``estafette.secret(...)`` envelope in the configuration is
replaced by a value from ``--secrets-file`` (YAML or JSON: a mapping from the envelope, or from the name it is found
under — ``MY_TOKEN`` for ``env: {MY_TOKEN: estafette.secret(…)}`` — to the value) or, on a terminal, by a prompt that
does not echo. Without a terminal and without a value in the file the replay is refused before anything runs.

Exit codes as local mode: 0 succeeded, 1 failed, 2 unusable input (URL, token, API, checkout, secrets), 130 interrupted.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from builder.secrets import ENVELOPE_PATTERN

TOKEN_VARIABLE = "ESTAFETTE_API_TOKEN"  # noqa: S105 — the variable's name, not a token
GIT_CLONE_STAGE = "git-clone"
_BUILD_URL = re.compile(
    r"^(?P<base>https?://[^/?#]+(?:/[^?#]*?)?)/(?:api/)?pipelines/(?P<source>[^/?#]+)/(?P<owner>[^/?#]+)/"
    r"(?P<name>[^/?#]+)/builds/(?P<id>[^/?#]+)(?:[/?#].*)?$"
)


class ReplayError(Exception):
    """A replay that cannot start; the message says what to do next."""


@dataclass(frozen=True)
class BuildUrl:
    base: str  # the server's URL (https://ci.example.com), without /api
    source: str
    owner: str
    name: str
    build_id: str

    @property
    def replay_api(self) -> str:
        return f"{self.base}/api/pipelines/{self.source}/{self.owner}/{self.name}/builds/{self.build_id}/replay"


def parse_build_url(url: str) -> BuildUrl:
    """A build's URL in the web UI or the API (``…/pipelines/{source}/{owner}/{name}/builds/{id}[/…]``)."""
    match = _BUILD_URL.match(url.strip())
    if match is None:
        raise ReplayError(
            f"{url!r} is not a build's URL; copy it from the build's page, e.g. "
            "https://ci.example.com/pipelines/github.com/owner/repo/builds/42"
        )
    return BuildUrl(
        base=match["base"].rstrip("/").removesuffix("/api"),  # an API URL: the server is above /api
        source=match["source"],
        owner=match["owner"],
        name=match["name"],
        build_id=match["id"],
    )


def fetch_replay(build: BuildUrl, *, token: str, timeout: float = 30) -> dict[str, Any]:
    """The build's replay document from the API; ``ReplayError`` saying what to do on any failure."""
    request = urllib.request.Request(  # noqa: S310 — http(s) only (the URL pattern)
        build.replay_api, headers={"Authorization": f"Token {token}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 — http(s) only (the URL pattern)
            document = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise ReplayError(_refusal(error.code, build, _message(error))) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ReplayError(
            f"cannot reach the API at {build.base}: {reason}; check the URL and that the server is running"
        ) from None
    except ValueError:
        raise ReplayError(f"{build.replay_api} did not answer JSON; is {build.base} an Estafette server?") from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise ReplayError(f"{build.replay_api} answered without a build configuration; is the server up to date?")
    return document


def _message(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"null")
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _refusal(status: int, build: BuildUrl, message: str) -> str:
    said = f" ({message})" if message else ""
    if status == 401:
        return (
            f"the API refused the token{said}; create an API token in your profile on {build.base} and pass it "
            f"with --token or {TOKEN_VARIABLE}"
        )
    if status in (403, 404):
        return (
            f"build {build.build_id} of {build.source}/{build.owner}/{build.name} was not found or you may not "
            f"see it{said}; check the URL, or ask for the viewer role on the pipeline"
        )
    return f"the API answered {status}{said} for {build.replay_api}"


# -- secrets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretUse:
    envelope: str
    name: str  # the key it is found under (an env variable, a parameter); "" at the top


def secret_uses(value: Any, name: str = "") -> list[SecretUse]:
    """Every envelope in ``value`` (JSON) with the key it is found under, in document order."""
    if isinstance(value, str):
        return [SecretUse(match.group(0), name) for match in ENVELOPE_PATTERN.finditer(value)]
    if isinstance(value, Mapping):
        return [use for key, item in value.items() for use in secret_uses(item, str(key))]
    if isinstance(value, list | tuple):
        return [use for item in value for use in secret_uses(item, name)]
    return []


def load_secrets_file(path: Path) -> dict[str, str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())  # JSON is YAML
    except OSError as error:
        raise ReplayError(f"cannot read the secrets file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ReplayError(f"the secrets file {path} is not YAML or JSON: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise ReplayError(f"the secrets file {path} must be a mapping of secret name or envelope → value")
    return {key: "" if value is None else str(value) for key, value in data.items()}


def resolve_secrets(
    uses: Sequence[SecretUse],
    *,
    given: Mapping[str, str],
    prompt: Callable[[str], str] | None,
) -> dict[str, str]:
    """A value for every envelope: from ``given`` (by envelope, then by name), else ``prompt`` (None: no terminal)."""
    values: dict[str, str] = {}
    missing: list[SecretUse] = []
    for use in uses:
        if use.envelope in values:
            continue
        if use.envelope in given:
            values[use.envelope] = given[use.envelope]
        elif use.name and use.name in given:
            values[use.envelope] = given[use.name]
        elif prompt is not None:
            values[use.envelope] = prompt(f"value of secret {use.name or _short(use.envelope)} (not echoed): ")
        else:
            missing.append(use)
    if missing:
        names = ", ".join(sorted({use.name or _short(use.envelope) for use in missing}))
        raise ReplayError(
            f"the build uses secrets the server does not reveal: {names}; give their values in a --secrets-file "
            "(YAML or JSON: name or envelope → value), or run this in a terminal to be asked for them"
        )
    return values


def _short(envelope: str) -> str:
    return envelope if len(envelope) <= 40 else f"{envelope[:36]}…)"


def substitute(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` (JSON) with every envelope replaced by its local value."""
    if isinstance(value, str):
        return ENVELOPE_PATTERN.sub(lambda match: values[match.group(0)], value)
    if isinstance(value, Mapping):
        return {key: substitute(item, values) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(item, values) for item in value]
    return value


# -- the checkout ----------------------------------------------------------------------------------


def _git(directory: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, text=True, check=False, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ReplayError(f"git {args[0]} failed: {error}; is git installed?") from None


def clone_url(git: Mapping[str, Any]) -> str:
    """Where the build's repository is: the configuration's ``repoUrl`` (local repositories), else the forge's."""
    if git.get("repoUrl"):
        return str(git["repoUrl"])
    source, owner, name = git.get("repoSource", ""), git.get("repoOwner", ""), git.get("repoName", "")
    if source == "source.developers.google.com":
        return f"https://source.developers.google.com/p/{owner}/r/{name}"
    return f"https://{source}/{owner}/{name}"


def check_checkout(directory: Path, revision: str) -> Path:
    """``directory`` when it is a git working copy whose HEAD reaches ``revision``."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise ReplayError(f"--checkout {directory} is not a directory")
    if _git(directory, "rev-parse", "--git-dir").returncode != 0:
        raise ReplayError(f"--checkout {directory} is not a git working copy")
    if _git(directory, "cat-file", "-e", f"{revision}^{{commit}}").returncode != 0:
        raise ReplayError(
            f"revision {revision} is not in {directory}; run `git fetch` there, or leave out --checkout to clone"
        )
    if _git(directory, "merge-base", "--is-ancestor", revision, "HEAD").returncode != 0:
        raise ReplayError(
            f"HEAD of {directory} does not reach revision {revision}; run `git checkout {revision}` there first"
        )
    return directory


def clone_revision(url: str, revision: str, *, into: Path, out: TextIO) -> Path:
    """A fresh clone of ``url`` in ``into`` with ``revision`` checked out (detached)."""
    out.write(f"Cloning {url} into {into}\n")
    out.flush()
    cloned = _git(into.parent, "clone", "--quiet", "--no-checkout", "--", url, str(into))
    if cloned.returncode != 0:
        raise ReplayError(
            f"cannot clone {url}: {cloned.stderr.strip()}; check your git access to it, or pass --checkout DIR"
        )
    checked_out = _git(into, "checkout", "--quiet", "--detach", revision)
    if checked_out.returncode != 0:
        raise ReplayError(f"revision {revision} was not found in {url}: {checked_out.stderr.strip()}")
    return into


# -- the command -----------------------------------------------------------------------------------


def replay(
    *,
    build_url: str,
    token: str | None = None,
    secrets_file: str | None = None,
    checkout: str | None = None,
    executor_kind: str | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    prompt: Callable[[str], str] | None = None,
    interactive: bool | None = None,
) -> int:
    from builder.contracts import BuilderConfig, ContractError
    from builder.local import run_config

    token = token or environ.get(TOKEN_VARIABLE, "")
    if interactive is None:
        interactive = sys.stdin.isatty()
    try:
        if not token:
            raise ReplayError(f"an API token is needed: pass --token or set {TOKEN_VARIABLE}")
        build = parse_build_url(build_url)
        document = fetch_replay(build, token=token)
        raw = document["config"]
        uses = secret_uses({"manifest": raw.get("manifest"), "stages": raw.get("stages")})
        given = load_secrets_file(Path(secrets_file)) if secrets_file else {}
        values = resolve_secrets(uses, given=given, prompt=(prompt or getpass.getpass) if interactive else None)
        raw = substitute(raw, values)
        raw["stages"] = [stage for stage in raw.get("stages") or () if stage.get("name") != GIT_CLONE_STAGE]
        try:
            config = BuilderConfig.from_dict(raw)
        except ContractError as error:
            raise ReplayError(f"the server's build configuration is not one this builder reads: {error}") from None
        revision = config.git.repo_revision
        if checkout:
            workspace = check_checkout(Path(checkout), revision)
        else:
            into = Path(tempfile.mkdtemp(prefix=f"estafette-replay-{build.build_id}-")) / config.git.repo_name
            workspace = clone_revision(clone_url(raw.get("git") or {}), revision, into=into, out=out)
    except ReplayError as error:
        print(f"estafette-builder replay: {error}", file=sys.stderr)
        return 2
    out.write(
        f"Replaying build {build.build_id} of {config.git.full_name} (version {config.version.version}, "
        f"branch {config.git.repo_branch}, revision {revision[:12]}) in {workspace}\n"
    )
    env = document.get("env")
    return run_config(
        config,
        stages=config.stages,
        workspace=workspace,
        executor_kind=executor_kind,
        environ=environ,
        out=out,
        what=f"build {build.build_id}",
        builder_env={str(key): str(value) for key, value in env.items()} if isinstance(env, dict) else None,
        masked=[value for value in values.values() if value],
    )


def parse_replay_args(argv: Sequence[str]) -> dict[str, Any]:
    import argparse

    parser = argparse.ArgumentParser(
        prog="estafette-builder replay",
        description="Run a server build's stages on this machine, in a checkout of its revision.",
    )
    parser.add_argument("build_url", help="the build's URL (its page in the web UI, or its API URL)")
    parser.add_argument("--token", help=f"an API token (default: ${TOKEN_VARIABLE})")
    parser.add_argument("--secrets-file", help="YAML/JSON mapping of secret name or envelope → value")
    parser.add_argument("--checkout", help="a working copy whose HEAD reaches the build's revision (default: clone)")
    parser.add_argument("--executor", dest="executor_kind", choices=("auto", "docker", "host"))
    return vars(parser.parse_args(argv))
