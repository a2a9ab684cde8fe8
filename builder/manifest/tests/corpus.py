"""The compatibility corpus: real manifests, Estafette's own fixtures and its defaulted output for each.

Copied from ``../shared/corpus`` so the suite runs on a clean clone; see ``corpus/README.md`` for sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parent / "corpus"
REAL_MANIFESTS = sorted((CORPUS / "real-manifests").glob("*.yaml"))
FIXTURES = CORPUS / "estafette-ci-manifest"
VALID_FIXTURES = sorted(path for path in FIXTURES.glob("*.yaml") if path.name != "test-non-strict-manifest.yaml")
EXPECTED = CORPUS / "expected"


def expected_for(manifest: Path) -> Path:
    return EXPECTED / (manifest.name.removesuffix(".yaml") + ".json")


def largest_manifest() -> Path:
    return max([*REAL_MANIFESTS, *VALID_FIXTURES], key=lambda path: path.stat().st_size)


def without_empty(value: Any) -> Any:
    """Drop Go's spellings of "not set" (null, "", false, [], {}) so only what is set gets compared."""
    if isinstance(value, dict):
        kept = {key: without_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, "", False, [], {})}
    if isinstance(value, list):
        return [without_empty(item) for item in value]
    return value
