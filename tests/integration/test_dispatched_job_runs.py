"""A dispatched job's configuration runs in the real builder: clone, secrets, trigger variables.

The builder runs as a subprocess (``python -m builder job``, host executor) against the builder's
``FakeApi`` standing in for the callback endpoints, with exactly the configuration and per-job key
that dispatch handed the job runner.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from django.conf import settings

from builder.testing import FakeApi
from estafette.jobs.testing import FakeJobRunner
from estafette.lib.crypt import secret_encrypt
from integrations.git.testing import GitRepository, push
from runs.testing import config_of
from triggers.testing import settle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("intake")]

MANIFEST = """\
env:
  API_TOKEN: {secret}
stages:
  test:
    image: alpine:3.20
    commands:
    - test -f checked-out.txt
    - echo "token=$API_TOKEN"
    - echo "trigger=$ESTAFETTE_TRIGGER_GIT_BRANCH version=$ESTAFETTE_BUILD_VERSION"
"""


def test_the_builder_runs_a_dispatched_build_with_its_own_key(tmp_path: Path, job_runner: FakeJobRunner) -> None:
    # given a pushed repository whose manifest uses a secret of its own, dispatched to a job
    repository = GitRepository(tmp_path / "acme" / "api")
    secret = secret_encrypt(value="s3cret-value", allow_list="local/acme/api")
    repository.commit({".estafette.yaml": MANIFEST.format(secret=secret), "checked-out.txt": "yes"})
    push(repository)
    settle()
    (spec,) = job_runner.started

    # when the builder runs that configuration, reporting to a fake API, with the job's key
    with FakeApi() as api:
        config = replace(config_of(spec), ci_server=api.ci_server())
        config_file, key_file = tmp_path / "builder-config.json", tmp_path / "secret-key"
        config_file.write_text(json.dumps(config.to_dict()))
        key_file.write_text(spec.secret_key)
        result = subprocess.run(
            [
                *(sys.executable, "-m", "builder", "job", "--executor", "host"),
                *("--config", str(config_file), "--secret-key-file", str(key_file)),
                *("--workspace", str(tmp_path / "work")),
            ],
            cwd=settings.BASE_DIR,
            check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )

        # then it cloned the pushed revision, ran the stage with the secret decrypted (and masked), and succeeded
        assert result.returncode == 0, result.stderr
        assert api.stored_statuses() == ["running", "succeeded"], result.stderr
        assert [step.step for step in api.steps()][-2:] == ["git-clone", "test"]
        texts = api.texts("test")
        assert "token=***" in texts
        assert "trigger=main version=0.0.1" in texts
        assert "s3cret-value" not in json.dumps([line.to_dict() for line in api.stored_lines()])
