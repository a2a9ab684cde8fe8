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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

TOP_LEVEL_KEYS = frozenset({"manifestPreferences", "credentials", "trustedImages", "clearDefaultTrustedImages", "auth"})
CREDENTIAL_FILTER_KEYS = ("allowedPipelines", "allowedTrustedImages", "allowedBranches")
TRUSTED_IMAGE_KEYS = frozenset(
    {"path", "runPrivileged", "runDocker", "allowCommands", "injectedCredentialTypes", "allowedPipelines"}
)
MANIFEST_PREFERENCE_KEYS = frozenset(
    {"labelRegexes", "builderOperatingSystems", "builderTracksPerOperatingSystem", "defaultBranch"}
)
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


@dataclass(frozen=True)
class ServerConfig:
    """The file's content, checked. Credentials and trusted images keep Estafette's camelCase keys."""

    manifest_preferences: dict[str, Any] = field(default_factory=dict)
    credentials: list[dict[str, Any]] = field(default_factory=list)
    trusted_images: list[dict[str, Any]] = field(default_factory=lambda: [dict(i) for i in DEFAULT_TRUSTED_IMAGES])
    # Estafette's ``auth`` section, as written: checked by estafette.access.config (login providers, administrators).
    auth: dict[str, Any] = field(default_factory=dict)

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
        raise ImproperlyConfigured(f"{where}: the file must be a mapping with {', '.join(sorted(TOP_LEVEL_KEYS))}")
    _reject_unknown(data, TOP_LEVEL_KEYS, where)
    clear = data.get("clearDefaultTrustedImages", False)
    if not isinstance(clear, bool):
        raise ImproperlyConfigured(f"{where}: clearDefaultTrustedImages must be true or false")
    credentials = [
        check_credential(item, where=f"{where}: credentials[{index}]")
        for index, item in enumerate(_list(data, "credentials", where))
    ]
    names = [credential["name"] for credential in credentials]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ImproperlyConfigured(f"{where}: credential names must be unique, repeated: {', '.join(duplicates)}")
    own_images = [
        check_trusted_image(item, where=f"{where}: trustedImages[{index}]")
        for index, item in enumerate(_list(data, "trustedImages", where))
    ]
    defaults = [] if clear else [dict(image) for image in DEFAULT_TRUSTED_IMAGES]
    own_paths = {image["path"] for image in own_images}
    # An image configured here replaces its default entry instead of being listed twice.
    trusted_images = [image for image in defaults if image["path"] not in own_paths] + own_images
    preferences = check_manifest_preferences(
        data.get("manifestPreferences") or {}, where=f"{where}: manifestPreferences"
    )
    auth = data.get("auth") or {}
    if not isinstance(auth, Mapping):
        raise ImproperlyConfigured(f"{where}: auth must be a mapping (administrators, google, github, oidc, …)")
    return ServerConfig(
        manifest_preferences=preferences, credentials=credentials, trusted_images=trusted_images, auth=dict(auth)
    )


def check_credential(item: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise ImproperlyConfigured(f"{where} must be a mapping with name, type and the credential's properties")
    for key in ("name", "type"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise ImproperlyConfigured(f"{where}: {key} is required and must be text")
    for key in CREDENTIAL_FILTER_KEYS:
        _check_regex(item.get(key, ""), where=f"{where}: {key}")
    return {str(key): value for key, value in item.items()}


def check_trusted_image(item: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise ImproperlyConfigured(f"{where} must be a mapping with at least a path")
    _reject_unknown(item, TRUSTED_IMAGE_KEYS, where)
    if not isinstance(item.get("path"), str) or not item["path"].strip():
        raise ImproperlyConfigured(f"{where}: path (the image without its tag) is required")
    for key in ("runPrivileged", "runDocker", "allowCommands"):
        if not isinstance(item.get(key, False), bool):
            raise ImproperlyConfigured(f"{where}: {key} must be true or false")
    types = item.get("injectedCredentialTypes", [])
    if not isinstance(types, list) or not all(isinstance(value, str) for value in types):
        raise ImproperlyConfigured(f"{where}: injectedCredentialTypes must be a list of credential types")
    _check_regex(item.get("allowedPipelines", ""), where=f"{where}: allowedPipelines")
    return dict(item)


def check_manifest_preferences(data: Any, *, where: str) -> dict[str, Any]:
    """Estafette's ``manifestPreferences`` shape (ESTAFETTE.md §1.13); missing keys keep their defaults."""
    if not isinstance(data, Mapping):
        raise ImproperlyConfigured(f"{where} must be a mapping of {', '.join(sorted(MANIFEST_PREFERENCE_KEYS))}")
    _reject_unknown(data, MANIFEST_PREFERENCE_KEYS, where)
    regexes = data.get("labelRegexes", {})
    if not isinstance(regexes, Mapping) or not all(isinstance(value, str) for value in regexes.values()):
        raise ImproperlyConfigured(f"{where}: labelRegexes must map label keys to regular expressions")
    for key, pattern in regexes.items():
        _check_regex(pattern, where=f"{where}: labelRegexes.{key}")
    systems = data.get("builderOperatingSystems", ["linux"])
    if not isinstance(systems, list) or not systems or not all(isinstance(value, str) for value in systems):
        raise ImproperlyConfigured(f"{where}: builderOperatingSystems must be a non-empty list, e.g. [linux]")
    tracks = data.get("builderTracksPerOperatingSystem", {})
    if not isinstance(tracks, Mapping) or not all(
        isinstance(names, list) and names and all(isinstance(name, str) for name in names) for names in tracks.values()
    ):
        raise ImproperlyConfigured(
            f"{where}: builderTracksPerOperatingSystem must map an operating system to a non-empty list of tracks"
        )
    branch = data.get("defaultBranch", "master")
    if not isinstance(branch, str) or not branch.strip():
        raise ImproperlyConfigured(f"{where}: defaultBranch must be a branch name")
    return dict(data)


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ImproperlyConfigured(f"{where}: {key} must be a list")
    return value


def _reject_unknown(data: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise ImproperlyConfigured(f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def _check_regex(pattern: Any, *, where: str) -> None:
    if not isinstance(pattern, str):
        raise ImproperlyConfigured(f"{where} must be a regular expression (text)")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ImproperlyConfigured(f"{where} is not a valid regular expression: {error}") from None
