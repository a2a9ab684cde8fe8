"""The ``.estafette.yaml`` library: parse, default and validate manifests exactly as Estafette does.

Pure Python (PyYAML, croniter, and RE2 for authors' patterns); the API, the workers and the builder all import it.
``load_manifest`` is the entry point; see ``docs/CONTRACTS.md`` §1 for the interface.

The public names are imported on first use (module ``__getattr__``): the builder's job path needs ``Stage`` and
``Service`` only, and importing every module here (PyYAML, the trigger and event models) would cost it tens of
milliseconds of start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.manifest.bots import Bot
    from builder.manifest.builder import Builder
    from builder.manifest.errors import ManifestError, ManifestErrors
    from builder.manifest.manifest import Manifest, load_manifest
    from builder.manifest.preferences import ManifestPreferences
    from builder.manifest.releases import Release, ReleaseAction, ReleaseTemplate
    from builder.manifest.services import Service
    from builder.manifest.stages import Stage
    from builder.manifest.triggers import Trigger
    from builder.manifest.version import CustomVersion, SemverVersion, Version

__all__ = [
    "Bot",
    "Builder",
    "CustomVersion",
    "Manifest",
    "ManifestError",
    "ManifestErrors",
    "ManifestPreferences",
    "Release",
    "ReleaseAction",
    "ReleaseTemplate",
    "SemverVersion",
    "Service",
    "Stage",
    "Trigger",
    "Version",
    "load_manifest",
]

_MODULE_OF = {
    "Bot": "bots",
    "Builder": "builder",
    "CustomVersion": "version",
    "Manifest": "manifest",
    "ManifestError": "errors",
    "ManifestErrors": "errors",
    "ManifestPreferences": "preferences",
    "Release": "releases",
    "ReleaseAction": "releases",
    "ReleaseTemplate": "releases",
    "SemverVersion": "version",
    "Service": "services",
    "Stage": "stages",
    "Trigger": "triggers",
    "Version": "version",
    "load_manifest": "manifest",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'builder.manifest' has no attribute {name!r}")
    value = getattr(import_module(f"builder.manifest.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
