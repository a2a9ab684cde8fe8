"""The ``.estafette.yaml`` library: parse, default and validate manifests exactly as Estafette does.

Pure Python (PyYAML and croniter only); the API, the workers and the builder all import it.
``load_manifest`` is the entry point; see ``docs/CONTRACTS.md`` §1 for the interface.
"""

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
