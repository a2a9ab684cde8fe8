"""The shape of ``ESTAFETTE_CONFIG_FILE`` as pydantic models: they check the file and document it.

Kept apart from ``server_config`` because building the models costs start-up time (pydantic's schema build, tens
to hundreds of milliseconds on a busy machine): they are imported only when there is a file or preferences to check.
``python -m estafette.lib.server_config_schema > docs/server-config.schema.json`` regenerates the JSON Schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from builder.manifest.regex import allow_list_error, anchored_error

_Model = TypeVar("_Model", bound=BaseModel)


# -- the file's shape ---------------------------------------------------------------------------------------------


def _text(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("empty", "must not be empty")
    return value


def _branch(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("empty", "must be a branch name")
    return value


def _allow_list(value: str) -> str:
    error = allow_list_error(value)
    if error is not None:
        raise PydanticCustomError("regex", "is not a valid regular expression (RE2): {error}", {"error": error})
    return value


def _label_regex(value: str) -> str:
    error = anchored_error(value)
    if error is not None:
        raise PydanticCustomError("regex", "is not a valid regular expression (RE2): {error}", {"error": error})
    return value


Text = Annotated[StrictStr, AfterValidator(_text)]
AllowList = Annotated[
    StrictStr,
    AfterValidator(_allow_list),
    Field(description="An RE2 regular expression anchored at both ends, ^(…)$; empty allows everything."),
]
LabelRegex = Annotated[StrictStr, AfterValidator(_label_regex)]


class Credential(BaseModel):
    """A credential handed to the jobs whose pipeline, branch and trusted image it allows. Any other key is the
    credential's own property (``repository``, ``password: estafette.secret(…)`` made with POST
    /api/manifest/encrypt, …)."""

    model_config = ConfigDict(extra="allow")

    name: Text = Field(description="Unique name; stages refer to it.")
    type: Text = Field(description="e.g. container-registry, kubernetes-engine, github-api-token, slack-webhook.")
    allowedPipelines: AllowList = ""
    allowedTrustedImages: AllowList = ""
    allowedBranches: AllowList = ""


class TrustedImage(BaseModel):
    """An image (its path, without tag) that may do more than a stage's image: run privileged, get the Docker
    socket, be handed credentials of the listed types as ``/credentials/<type>.json``."""

    model_config = ConfigDict(extra="forbid")

    path: Text = Field(description="The image without its tag, e.g. extensions/docker.")
    runPrivileged: StrictBool = False
    runDocker: StrictBool = Field(False, description="Mount the Docker socket into the stage.")
    allowCommands: StrictBool = Field(False, description="Whether a stage with this image may set commands.")
    injectedCredentialTypes: list[StrictStr] = Field(default_factory=list)
    allowedPipelines: AllowList = ""


class ManifestPreferences(BaseModel):
    """Estafette's manifestPreferences (ESTAFETTE.md §1.13); ESTAFETTE_MANIFEST_PREFERENCES (JSON) overrides them."""

    model_config = ConfigDict(extra="forbid")

    labelRegexes: dict[str, LabelRegex] = Field(
        default_factory=dict, description="Label key → RE2 regular expression its value must match, ^pattern$."
    )
    builderOperatingSystems: Annotated[list[StrictStr], Field(min_length=1)] = Field(default_factory=lambda: ["linux"])
    builderTracksPerOperatingSystem: dict[str, Annotated[list[StrictStr], Field(min_length=1)]] = Field(
        default_factory=dict, description="Operating system → the builder tracks allowed on it."
    )
    defaultBranch: Annotated[StrictStr, AfterValidator(_branch)] = Field(
        "master", description="The branch a build or bot trigger's action defaults to."
    )


class GitHubIntegration(BaseModel):
    """The GitHub App (``integrations/github``); the ``ESTAFETTE_GITHUB_*`` variables win over these."""

    model_config = ConfigDict(extra="forbid")

    appId: StrictStr | StrictInt | None = Field(None, description="The app's id, the JWT's issuer.")
    privateKeyFile: StrictStr | None = Field(None, description="The app's PEM private key file.")
    webhookSecret: StrictStr | None = Field(None, description="The secret GitHub signs deliveries with.")
    apiUrl: StrictStr | None = Field(
        None, description="https://api.github.com (the default); GitHub Enterprise: https://<host>/api/v3."
    )
    maxDeliveryBytes: StrictInt | None = Field(
        None, ge=16 * 1024, description="The largest delivery body taken (GitHub sends at most 25 MB, the default)."
    )


class BitbucketIntegration(BaseModel):
    """The Bitbucket Cloud Connect app (``integrations/bitbucket``); the ``ESTAFETTE_BITBUCKET_*`` variables win."""

    model_config = ConfigDict(extra="forbid")

    appKey: StrictStr | None = Field(None, description="The app's key in its descriptor (default estafette-ci).")
    apiUrl: StrictStr | None = Field(None, description="https://api.bitbucket.org (the default).")
    webUrl: StrictStr | None = Field(
        None, description="https://bitbucket.org (the default): the repositories' host and its OAuth token endpoint."
    )
    maxEventBytes: StrictInt | None = Field(
        None, ge=16 * 1024, description="The largest event body taken (Bitbucket sends at most 256 KB, the default)."
    )


class SlackChannel(BaseModel):
    """Where the failure and recovery notices of some pipelines go."""

    model_config = ConfigDict(extra="forbid")

    pipelines: AllowList = Field(description="The pipelines (source/owner/name) whose notices go to the channel.")
    channel: Text = Field(description="A channel's id (C…) or name (#ci).")


class SlackIntegration(BaseModel):
    """The Slack app (``integrations/slack``); the ``ESTAFETTE_SLACK_*`` variables win over these."""

    model_config = ConfigDict(extra="forbid")

    signingSecret: StrictStr | None = Field(None, description="The app's signing secret: slash commands are signed.")
    botToken: StrictStr | None = Field(
        None, description="The app's bot token (xoxb-…; scopes chat:write, users:read, users:read.email)."
    )
    apiUrl: StrictStr | None = Field(None, description="https://slack.com/api (the default).")
    channels: list[SlackChannel] | None = Field(
        None,
        description="Channels for the failure and recovery notices, by pipeline; a pipeline's label slack-channel "
        "wins over them.",
    )


class CloudSourceIntegration(BaseModel):
    """Google Cloud Source Repositories through Pub/Sub push (``integrations/cloudsource``); the
    ``ESTAFETTE_CLOUDSOURCE_*`` variables win over these."""

    model_config = ConfigDict(extra="forbid")

    audience: StrictStr | None = Field(None, description="The push subscription's OIDC token audience.")
    serviceAccountEmail: StrictStr | None = Field(
        None, description="The service account the push subscription authenticates as."
    )
    discoveryUrl: StrictStr | None = Field(
        None, description="Google's OpenID discovery document (the default); its jwks_uri has the signing keys."
    )
    gitUrl: StrictStr | None = Field(
        None, description="https://source.developers.google.com (the default): where repositories are cloned from."
    )


class Integrations(BaseModel):
    """Each integration's settings."""

    model_config = ConfigDict(extra="forbid")

    github: GitHubIntegration | None = None
    bitbucket: BitbucketIntegration | None = None
    slack: SlackIntegration | None = None
    cloudsource: CloudSourceIntegration | None = None


class Catalog(BaseModel):
    """Estafette's catalog page."""

    model_config = ConfigDict(extra="forbid")

    filters: list[Text] = Field(default_factory=list, description="The label keys the catalog offers as facets.")


class Insights(BaseModel):
    """What the delivery insights (``GET /api/insights/dora``) count as production, a rollback and a hotfix."""

    model_config = ConfigDict(extra="forbid")

    productionTargets: list[Text] = Field(
        default_factory=lambda: ["production", "prod"],
        description="Release targets that are production: their succeeded releases are deployments.",
    )
    rollbackActions: list[Text] = Field(
        default_factory=lambda: ["rollback"],
        description="Release actions that undo a deployment: one after a deployment marks that change failed.",
    )
    hotfixBranchPrefixes: list[Text] = Field(
        default_factory=lambda: ["hotfix/"],
        description="A deployment of a build from a branch with one of these prefixes is a hotfix: it marks the "
        "deployment before it failed.",
    )
    failureWindowHours: int = Field(
        24, ge=1, le=24 * 90, description="How long after a deployment a rollback or hotfix still marks it failed."
    )


class ServerConfigFile(BaseModel):
    """``ESTAFETTE_CONFIG_FILE``: credentials, trusted images and manifest preferences, in Estafette's camelCase."""

    model_config = ConfigDict(extra="forbid", title="Estafette server configuration (ESTAFETTE_CONFIG_FILE)")

    manifestPreferences: ManifestPreferences | None = None
    credentials: list[Credential] | None = None
    trustedImages: list[TrustedImage] | None = Field(
        None, description="Appended to Estafette's default trusted images; an entry with a default's path replaces it."
    )
    clearDefaultTrustedImages: StrictBool = Field(False, description="Start from no trusted images instead.")
    integrations: Integrations | None = None
    catalog: Catalog | None = None
    insights: Insights | None = None
    auth: dict[str, Any] | None = Field(
        None,
        description="Estafette's auth section (administrators, google, github, microsoft, oidc, organizations), "
        "checked by estafette.access.config.",
    )


def server_config_schema() -> dict[str, Any]:
    """The file's JSON Schema (``docs/server-config.schema.json``)."""
    return ServerConfigFile.model_json_schema()


def validate(model: type[_Model], data: Mapping[str, Any], *, where: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        # The first problem, in the words start-up errors use here; the rest would follow once it is fixed.
        raise ImproperlyConfigured(f"{where}: {_message(error.errors()[0])}") from None


def _path(parts: Sequence[str | int]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts).lstrip(".")


def _message(error: ErrorDetails) -> str:
    """``credentials[0]: name is required``: the item's place, then the key and what is wrong with its value."""
    loc = error["loc"]
    keys = [index for index, part in enumerate(loc) if isinstance(part, str)]
    split = keys[-1] if keys else len(loc)
    place, key = _path(loc[:split]), _path(loc[split:]) or "the value"
    kind = error["type"]
    if kind == "missing":
        text = f"{key} is required"
    elif kind == "extra_forbidden":
        text = f"unknown key {key}"
    elif kind.startswith("bool"):
        text = f"{key} must be true or false"
    elif kind.startswith("string"):
        text = f"{key} must be text"
    elif kind == "too_short":
        text = f"{key} must be a non-empty list"
    elif kind.startswith("list"):
        text = f"{key} must be a list"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        text = f"{key} must be a mapping"
    else:  # ours (empty text, regular expressions) and anything else pydantic says
        text = f"{key} {error['msg']}"
    return f"{place}: {text}" if place else text


if __name__ == "__main__":  # python -m estafette.lib.server_config_schema > docs/server-config.schema.json
    print(json.dumps(server_config_schema(), indent=2, sort_keys=True, ensure_ascii=False))
