"""The optional server configuration file ``ESTAFETTE_CONFIG_FILE``: credentials, trusted images, preferences.

A small subset of Estafette's API configuration (ESTAFETTE.md §3.1), in its camelCase YAML::

    manifestPreferences:            # §1.13; ESTAFETTE_MANIFEST_PREFERENCES (JSON) overrides it
      defaultBranch: main
      labelRegexes: {team: "[a-z]+"}
    credentials:                    # handed to jobs whose pipeline/branch/trusted image they allow
    - name: registry
      type: container-registry
      allowedPipelines: github.com/acme/.+     # anchored regular expressions; empty = any
      allowedBranches: main
      allowedTrustedImages: extensions/docker
      repository: acme                         # any other key is the credential's own property
      password: estafette.secret(...)          # made with POST /api/manifest/encrypt
    trustedImages:                  # appended to the defaults unless clearDefaultTrustedImages: true
    - path: extensions/docker
      runDocker: true
      injectedCredentialTypes: [container-registry]
    clearDefaultTrustedImages: false

Every problem stops start-up with ``ImproperlyConfigured`` naming the file and the item. Secret
values stay encrypted here: jobs get them re-encrypted with their own key (``runs.dispatch``).

The file's shape is the pydantic model :class:`ServerConfigFile`, whose field descriptions document it; its JSON
Schema is ``docs/server-config.schema.json`` (``python -m estafette.lib.server_config > docs/server-config.schema.json``
regenerates it; a test keeps it current), for editors and for reading. Regular expressions are checked the way
they are evaluated, on RE2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from builder.manifest.regex import allow_list_error, anchored_error

_Model = TypeVar("_Model", bound=BaseModel)
SOURCE_TOKEN_TYPES = ["bitbucket-api-token", "github-api-token", "cloudsource-api-token"]

# Estafette's default trusted images (appended unless clearDefaultTrustedImages is true).
DEFAULT_TRUSTED_IMAGES: tuple[dict[str, Any], ...] = (
    {"path": "extensions/git-clone", "injectedCredentialTypes": SOURCE_TOKEN_TYPES},
    {"path": "extensions/github-status", "injectedCredentialTypes": ["github-api-token"]},
    {"path": "extensions/github-release", "injectedCredentialTypes": ["github-api-token"]},
    {"path": "extensions/bitbucket-status", "injectedCredentialTypes": ["bitbucket-api-token"]},
    {
        "path": "extensions/docker",
        "runDocker": True,
        "injectedCredentialTypes": ["container-registry", "github-api-token"],
    },
    {"path": "extensions/gke", "injectedCredentialTypes": ["kubernetes-engine"]},
    {"path": "extensions/helm", "injectedCredentialTypes": ["kubernetes-engine"]},
    {"path": "extensions/cloud-function", "injectedCredentialTypes": ["kubernetes-engine"]},
    {"path": "bsycorp/kind", "runPrivileged": True},
)


# -- the file's shape -----------------------------------------------------------------------------------------------


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


class ServerConfigFile(BaseModel):
    """``ESTAFETTE_CONFIG_FILE``: credentials, trusted images and manifest preferences, in Estafette's camelCase."""

    model_config = ConfigDict(extra="forbid", title="Estafette server configuration (ESTAFETTE_CONFIG_FILE)")

    manifestPreferences: ManifestPreferences | None = None
    credentials: list[Credential] | None = None
    trustedImages: list[TrustedImage] | None = Field(
        None, description="Appended to Estafette's default trusted images; an entry with a default's path replaces it."
    )
    clearDefaultTrustedImages: StrictBool = Field(False, description="Start from no trusted images instead.")


def server_config_schema() -> dict[str, Any]:
    """The file's JSON Schema (``docs/server-config.schema.json``)."""
    return ServerConfigFile.model_json_schema()


# -- reading it -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    """The file's content, checked. Credentials and trusted images keep Estafette's camelCase keys."""

    manifest_preferences: dict[str, Any] = field(default_factory=dict)
    credentials: list[dict[str, Any]] = field(default_factory=list)
    trusted_images: list[dict[str, Any]] = field(default_factory=lambda: [dict(i) for i in DEFAULT_TRUSTED_IMAGES])

    def __repr__(self) -> str:  # credentials hold (encrypted) secrets: keep them out of tracebacks
        return f"ServerConfig({len(self.credentials)} credentials, {len(self.trusted_images)} trusted images)"


def read_server_config(path: str) -> ServerConfig:
    """Read and check the file at ``path``; an empty path gives the defaults. Raises ``ImproperlyConfigured``."""
    if not path.strip():
        return ServerConfig()
    import yaml

    where = f"ESTAFETTE_CONFIG_FILE {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ImproperlyConfigured(f"{where} cannot be read: {error.strerror or error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ImproperlyConfigured(f"{where} is not valid YAML: {error}") from None
    return server_config_from_dict(data if data is not None else {}, where=where)


def server_config_from_dict(data: Any, *, where: str) -> ServerConfig:
    if not isinstance(data, Mapping):
        keys = ", ".join(ServerConfigFile.model_fields)
        raise ImproperlyConfigured(f"{where}: the file must be a mapping with {keys}")
    checked = _validate(ServerConfigFile, data, where=where)
    # The items as written (only the keys set), as the job configuration reads them.
    credentials = [{str(key): value for key, value in item.items()} for item in data.get("credentials") or []]
    names = [credential.name for credential in checked.credentials or []]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ImproperlyConfigured(f"{where}: credential names must be unique, repeated: {', '.join(duplicates)}")
    own_images = [dict(item) for item in data.get("trustedImages") or []]
    defaults = [] if checked.clearDefaultTrustedImages else [dict(image) for image in DEFAULT_TRUSTED_IMAGES]
    own_paths = {image["path"] for image in own_images}
    # An image configured here replaces its default entry instead of being listed twice.
    trusted_images = [image for image in defaults if image["path"] not in own_paths] + own_images
    preferences = dict(data.get("manifestPreferences") or {})
    return ServerConfig(manifest_preferences=preferences, credentials=credentials, trusted_images=trusted_images)


def check_manifest_preferences(data: Any, *, where: str) -> dict[str, Any]:
    """Estafette's ``manifestPreferences`` shape (ESTAFETTE.md §1.13); missing keys keep their defaults."""
    if not isinstance(data, Mapping):
        raise ImproperlyConfigured(f"{where} must be a mapping of {', '.join(ManifestPreferences.model_fields)}")
    _validate(ManifestPreferences, data, where=where)
    return dict(data)


def _validate(model: type[_Model], data: Mapping[str, Any], *, where: str) -> _Model:
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


if __name__ == "__main__":  # python -m estafette.lib.server_config > docs/server-config.schema.json
    print(json.dumps(server_config_schema(), indent=2, sort_keys=True, ensure_ascii=False))
