"""A job on the host executor starts lean: it never loads PyYAML, croniter, the docker SDK or logging.

Start-up is on the path from a push to the first stage running (the spine's target is 100 ms for the whole
path); each of these costs milliseconds to import and none is needed to run stages from a builder configuration.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from builder.testing import FakeApi

REPO = Path(__file__).resolve().parents[2]
NOT_ON_THE_HOST_PATH = (
    *("yaml", "croniter", "docker", "logging"),  # logging: through concurrent.futures
    *("builder.manifest.triggers", "builder.manifest.loader"),
)

RUN_AND_LIST_MODULES = (
    "import json, sys\n"
    "from builder.__main__ import main\n"
    "code = main(sys.argv[1:])\n"
    "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
)


def test_it_runs_a_host_job_without_loading_modules_it_does_not_need(tmp_path: Path) -> None:
    # given a one-stage job with an environment and a `when`, as the API sends it
    with FakeApi() as api:
        config = api.build_config(
            build_id="7",
            version="1.0.0",
            revision="a" * 40,
            stages=[{"name": "build", "image": "alpine", "when": "status == 'succeeded'", "commands": ["true"]}],
            manifest={"env": {"GREETING": "hello"}},
        )
        (tmp_path / "config.json").write_text(json.dumps(config))

        # when it runs in a fresh interpreter
        argv = ["job", "--config", str(tmp_path / "config.json"), "--executor", "host"]
        result = subprocess.run(
            [sys.executable, "-c", RUN_AND_LIST_MODULES, *argv, "--workspace", str(tmp_path / "work")],
            check=False,
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )

        # then the build ran and reported, and none of the heavy modules came along
        assert result.returncode == 0, result.stderr
        outcome = json.loads(result.stdout.splitlines()[-1])
        assert outcome["code"] == 0
        assert api.stored_statuses() == ["running", "succeeded"]
        loaded = [name for name in outcome["modules"] if name.startswith(NOT_ON_THE_HOST_PATH)]
        assert loaded == []
