"""The manifest library is pure Python: importing it pulls in PyYAML, RE2 and nothing of the API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
LIST_MODULES = "print('\\n'.join(sorted({name.split('.')[0] for name in sys.modules})))"


def top_level_modules(imports: str) -> set[str]:
    code = f"import sys\n{imports}\n{LIST_MODULES}\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_it_imports_without_django_or_the_apis_code() -> None:
    # given what a fresh interpreter loads by itself
    baseline = top_level_modules("")

    # when the library and its command line are imported
    loaded = top_level_modules("import builder.manifest, builder.manifest.cli, builder.manifest.when")

    # then the only other third-party packages are PyYAML and RE2 (croniter loads when a cron trigger is used)
    new = loaded - baseline - set(sys.stdlib_module_names)
    third_party = {name for name in new if "cython" not in name}  # libyaml's compiled bindings
    assert sorted(third_party) == ["builder", "re2", "yaml"]
