"""The manifest library is pure Python: importing it pulls in PyYAML and nothing of the API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_it_imports_without_django_or_the_apis_code() -> None:
    # given a fresh interpreter
    code = (
        "import sys, builder.manifest, builder.manifest.cli, builder.manifest.when, builder.manifest.events\n"
        "print('\\n'.join(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )

    # when the library and its command line are imported
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)

    # then the only third-party package loaded is PyYAML (croniter loads when a cron trigger is used)
    loaded = set(result.stdout.split())
    stdlib = set(sys.stdlib_module_names) | {"__main__", "builtins", "sys", "cython_runtime"}
    third_party = {name for name in loaded - stdlib if not name.startswith("_cython")}
    assert sorted(third_party) == ["_yaml", "builder", "yaml"]
