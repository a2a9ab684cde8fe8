"""Custom properties as the ``ESTAFETTE_EXTENSION_*`` environment variables extensions read."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PREFIX = "ESTAFETTE_EXTENSION_"
CUSTOM_PROPERTIES = PREFIX + "CUSTOM_PROPERTIES"
CUSTOM_PROPERTIES_YAML = PREFIX + "CUSTOM_PROPERTIES_YAML"

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")


def upper_snake(name: str) -> str:
    """``unknownProperty1`` → ``UNKNOWN_PROPERTY1``, ``no-cache`` → ``NO_CACHE``, ``UserID`` → ``USER_ID``."""
    return _NOT_NAME.sub("_", _WORD_BOUNDARY.sub("_", name)).upper()


def extension_env(custom_properties: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """The variables a stage or service container gets for its custom properties.

    Strings as they are, booleans as ``true``/``false``, numbers in Go's decimal form, lists of strings
    comma-joined; maps and mixed lists only appear in the JSON and YAML forms of the whole property map,
    which (when there is any property) also carries the container's own ``env`` under ``env``.
    """
    variables: dict[str, str] = {}
    for key, value in custom_properties.items():
        text = _as_variable(value)
        if text is not None:
            variables[PREFIX + upper_snake(key)] = text
    everything: dict[str, Any] = dict(custom_properties)
    if everything:
        everything["env"] = dict(env)
    variables[CUSTOM_PROPERTIES] = json.dumps(everything, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    variables[CUSTOM_PROPERTIES_YAML] = _yaml(everything) if everything else "{}\n"
    return variables


def _yaml(properties: Mapping[str, Any]) -> str:
    # PyYAML is imported only for a stage that has custom properties: most stages have none, and the builder's
    # start-up should not pay for it
    import yaml

    return yaml.safe_dump(properties, sort_keys=True, default_flow_style=False, allow_unicode=True)


def _as_variable(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        from builder.manifest.loader import go_float  # PyYAML comes with it; see _yaml

        return go_float(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    return None
