"""The builder and the manifest library must import without Django or the API's code."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("django", "estafette", "pipelines", "builds", "releases", "integrations", "rest_framework")


def test_it_imports_the_builder_in_a_fresh_interpreter_without_django() -> None:
    # given a fresh interpreter with nothing preloaded
    code = (
        "import sys, pkgutil, importlib, builder\n"
        "for m in pkgutil.walk_packages(builder.__path__, 'builder.'):\n"
        "    if '.tests' not in m.name and not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    # when every builder module is imported
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, env={"PATH": ""}
    )
    # then none of the API's packages came along
    loaded = set(result.stdout.split())
    assert "builder" in loaded
    leaked = sorted(name for name in loaded if name.split(".")[0] in FORBIDDEN)
    assert leaked == []
