"""Manifests a repository can push that the server must not run as written (issue 10, items 8 and 9): one of
10 MB (165 k commands), one of 2,000 stages, one whose bytes are not UTF-8 (they were replaced with U+FFFD and the
build ran commands that differ from the repository's bytes), and aliases that expand a small text into megabytes.

Against the running system: each is pushed through the signed webhook and must become a failed build whose
``validate-manifest`` step says why, as every manifest error is reported (``file:line:col: message``); no job runs,
and the build records the manifest's exact text or nothing, never an approximation a rebuild would run.
"""

from __future__ import annotations

import pytest

from integrations.git.testing import GitRepository
from tests.harness.asserts import printed, steps_of
from tests.harness.system import System

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

HUGE = (
    "stages:\n  build:\n    image: alpine:3.20\n    commands:\n"
    + "".join(f"    - echo 'line {n:06d} of a manifest far larger than any real one'\n" for n in range(165_000))
).encode()
MANY = (
    "stages:\n" + "".join(f"  stage{n}:\n    image: alpine:3.20\n    commands: [echo {n}]\n" for n in range(2000))
).encode()
# "café" in Latin-1: the 0xe9 byte is not UTF-8
LATIN1 = b"stages:\n  build:\n    image: alpine:3.20\n    commands:\n    - echo caf\xe9\n"
LONG = "x" * 10_000
ALIASES = (
    f"stages:\n  build:\n    image: alpine:3.20\n    long: &long {LONG}\n"
    f"    commands: [{', '.join(['*long'] * 1000)}]\n"  # 10 MB of commands once expanded, from a 16 KB text
).encode()

CASES = {
    "many": (MANY, "2:3: the build has 2000 stages, parallel stages and services; at most 500 are allowed", None),
    "latin1": (
        LATIN1,
        "5:15: the manifest is not valid UTF-8: byte 0xe9 at byte offset 68 (invalid continuation byte); "
        "save the file as UTF-8",
        "",
    ),
    "aliases": (ALIASES, "1:1: the manifest expands to more than 4194304 characters (through aliases?)", None),
    "huge": (HUGE, "1:1: the manifest is larger than 1048576 bytes (1 MiB), the most a manifest may have", ""),
}


def commit_bytes(repository: GitRepository, data: bytes) -> str:
    (repository.path / ".estafette.yaml").write_bytes(data)
    repository.git("add", ".estafette.yaml")
    repository.git("commit", "-q", "-m", "manifest")
    return repository.head()


def test_manifests_over_the_limits_or_not_utf8_fail_their_build_with_the_error(system: System) -> None:
    # given a repository per case, pushed through the webhook
    assert len(HUGE) > 10_000_000
    problems: list[str] = []
    for name, (data, _, _) in CASES.items():
        repository = GitRepository(system.repositories / "acme" / name)
        commit_bytes(repository, data)
        try:
            system.push(repository)
        except OSError as error:  # a server busy running an earlier case's manifest
            problems.append(f"{name}: the push was not accepted: {error}")

    # when the consumers have read them
    builds: dict[str, dict] = {}
    for name in CASES:
        try:
            builds[name] = system.wait_for_build(f"local/acme/{name}")
        except (AssertionError, OSError):
            problems.append(f"{name}: no build")

    # then each is a failed build whose only step, validate-manifest, says why; and it records the exact
    # manifest text or nothing
    for name, build in builds.items():
        data, error, recorded = CASES[name]
        path = f"/pipelines/local/acme/{name}/builds/{build['id']}"
        status, document = system.api.call("GET", f"{path}/logs")
        log = steps_of(document) if status == 200 else {}
        if build["buildStatus"] != "failed" or list(log) != ["validate-manifest"]:
            problems.append(f"{name}: {build['buildStatus']} with steps {list(log)}")
            continue
        expected = f".estafette.yaml:{error}"
        if printed(log["validate-manifest"]) != [expected]:
            problems.append(f"{name}: said {printed(log['validate-manifest'])}, not {expected!r}")
        manifest = system.api.get(path)["manifest"]
        if manifest != (data.decode() if recorded is None else recorded):
            problems.append(f"{name}: recorded a manifest of {len(manifest)} characters")
    assert problems == [], "\n".join([*problems, system.diagnostics()])
