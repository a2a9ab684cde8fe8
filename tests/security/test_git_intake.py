"""Attacks through the git webhook (issue 10, items 2 and 11): a signed body whose repository, branch or revision
git would read as an option or a command, or that names a repository on the host outside the operator's roots.

Against the running system (the Procfile under supervisord). Each payload must be answered 4xx with a JSON
``{code, message}``, and nothing it names may ever run: the commands write marker files (paths in the processes'
environment, so the scp-form payloads need no ``/``). To give a delivered event time to have been processed, a valid
push is sent afterwards and its build awaited; then no marker may exist and no pipeline may name the outside
repositories. The consumer must refuse the same payloads when they reach it without the webhook: published straight
to NATS (the running consumer) and handed to its ``handle`` in process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from estafette.queue.jetstream import QueueSettings
from estafette.queue.models import DeadLetter
from estafette.queue.testing import Verdict, deliver
from integrations.git.testing import GitRepository
from tests.harness.system import System, start_system
from tests.tooling.nats import publish_event
from triggers.consumers import GitPushConsumer

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

MANIFEST = "stages:\n  build:\n    image: alpine:3.20\n    commands:\n    - echo built\n"
MARKERS = ("SCP", "SCP_REVISION", "SSH_OPTION", "EXT", "PROXY", "FORGED_NATS", "FORGED_HANDLE")


def marker_variable(name: str) -> str:
    return f"ESTAFETTE_TEST_MARKER_{name}"


def hostile_bodies(markers: Path, valid: GitRepository, outside: dict[str, GitRepository]) -> dict[str, dict]:
    """Each attack: a signed push body. ``$ESTAFETTE_TEST_MARKER_*`` is expanded by the shell git would start."""
    push = {"event": "push", "branch": "main"}
    return {
        # issue 10 item 2, as reported: the scp form reached `git fetch` as an option, in the web worker
        "scp --upload-pack": push
        | {"repository": f"--upload-pack=touch${{IFS}}${marker_variable('SCP')};true${{IFS}}x@host:owner/repo"},
        # ... and with a revision the consumer ran it on every delivery
        "scp --upload-pack with a revision": push
        | {
            "repository": f"--upload-pack=touch${{IFS}}${marker_variable('SCP_REVISION')};true${{IFS}}x@host:o/r",
            "revision": "a" * 40,
        },
        "-c core.sshCommand": push
        | {"repository": f"-c core.sshCommand=touch${{IFS}}${marker_variable('SSH_OPTION')} host:owner/repo"},
        "ext:: remote helper": push | {"repository": f"ext::sh -c touch% ${marker_variable('EXT')}% #/acme/api"},
        "ssh ProxyCommand host": push
        | {"repository": f"ssh://-oProxyCommand=touch% ${marker_variable('PROXY')}/acme/api"},
        "file:// outside the roots": push | {"repository": f"file://{outside['file'].path}"},
        "a path outside the roots": push | {"repository": str(outside["path"].path)},
        "a path escaping the roots with ..": push
        | {"repository": f"{valid.path}/../../../../outside-dotdot/acme/dotdot"},
        "a revision starting with -": push | {"repository": str(valid.path), "revision": f"--output={markers}/rev"},
        "a branch starting with -": push | {"repository": str(valid.path), "branch": "-b"},
        "a branch --output=": {"event": "push", "repository": str(valid.path), "branch": f"--output={markers}/branch"},
        "a repository with a control character": push | {"repository": "https://example.com/acme/api\r\n"},
        "a branch with a control character": push | {"repository": str(valid.path), "branch": "main\x1b[2J"},
        "a revision with a control character": push | {"repository": str(valid.path), "revision": "abcdef0\n"},
    }


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def attacked(queue_settings: QueueSettings, tmp_path: Path, markers: Path) -> Iterator[System]:
    env = {marker_variable(name): str(markers / name.lower()) for name in MARKERS}
    with start_system(queue_settings, tmp_path / "system", env=env) as running:
        yield running


def test_hostile_webhook_bodies_are_refused_and_run_nothing(
    attacked: System, queue_settings: QueueSettings, tmp_path: Path, markers: Path
) -> None:
    # given a repository under the roots, and repositories elsewhere on the host (another user's checkouts)
    valid = attacked.repository("acme", "api", MANIFEST)
    outside = {
        "file": GitRepository(tmp_path / "elsewhere" / "acme" / "viafile"),
        "path": GitRepository(tmp_path / "elsewhere" / "acme" / "viapath"),
        "dotdot": GitRepository(tmp_path / "outside-dotdot" / "acme" / "dotdot"),
    }
    for repository in outside.values():
        repository.commit({".estafette.yaml": MANIFEST}, "private")

    # when each hostile body is signed and sent
    answers = {
        name: attacked.post_git_event(json.dumps(body).encode())
        for name, body in hostile_bodies(markers, valid, outside).items()
    }
    # and the same scp payload reaches the consumers straight through NATS, bypassing the webhook
    forged = {
        "event": "push",
        "repository": f"--upload-pack=touch${{IFS}}${marker_variable('FORGED_NATS')};true${{IFS}}x@host:owner/repo",
        "branch": "main",
        "revision": "b" * 40,
    }
    publish_event(queue_settings, forged, event_id="forged-push-1")
    # and, last, a valid push: once its build exists, every event before it has been delivered
    attacked.push(valid)
    attacked.wait_for_build("local/acme/api")

    # then each body was refused with Estafette's error body, nothing any of them named ran or was read, and the
    # forged event was refused by the consumer once, as a dead letter saying why
    problems = [
        f"{name}: answered {status} {answer}"
        for name, (status, answer) in answers.items()
        if not (400 <= status < 500 and isinstance(answer, dict) and set(answer) == {"code", "message"})
    ]
    problems += [f"marker {path.name} was written" for path in markers.iterdir()]
    problems += [
        f"pipeline local/acme/{name} was created from a repository outside the roots"
        for name in ("viafile", "viapath", "dotdot")
        if attacked.api.call("GET", f"/pipelines/local/acme/{name}")[0] != 404
    ]
    dead = list(DeadLetter.objects.filter(consumer="pipelines-git-push", event_id="forged-push-1"))
    if not (len(dead) == 1 and "starts with '-'" in dead[0].reason and dead[0].deliveries == 1):
        problems.append(f"the forged NATS event was not refused at once: {[(d.deliveries, d.reason) for d in dead]}")
    assert problems == [], "\n".join([*problems, attacked.diagnostics()])


@pytest.mark.parametrize(
    "payload",
    [
        {"repository": "--upload-pack=touch${IFS}$ESTAFETTE_TEST_MARKER_FORGED_HANDLE;true${IFS}x@host:owner/repo"},
        {"repository": "ext::sh -c touch% $ESTAFETTE_TEST_MARKER_FORGED_HANDLE% #/acme/api"},
        {"repository": "ssh://-oProxyCommand=touch% $ESTAFETTE_TEST_MARKER_FORGED_HANDLE/acme/api"},
        {"repository": "https://example.com/acme/api\r\n"},
    ],
    ids=["scp --upload-pack", "ext::", "ssh ProxyCommand", "control character"],
)
def test_a_forged_event_handed_to_the_consumer_is_refused_there(
    settings, tmp_path: Path, markers: Path, monkeypatch: pytest.MonkeyPatch, payload: dict[str, str]
) -> None:
    # given an event the webhook would have refused, handed to the push consumer as a delivery from the queue
    settings.GIT_CACHE_DIR = tmp_path / "git-cache"
    monkeypatch.setenv(marker_variable("FORGED_HANDLE"), str(markers / "forged"))
    event = {"event": "push", "branch": "main", "revision": "c" * 40} | payload

    # when the consumer handles it (prepare + handle, as `manage.py consume` does)
    outcome = deliver(GitPushConsumer(), event, event_id="forged-2")

    # then it gives up at once, and git never ran
    assert outcome.verdict is Verdict.TERMINATE
    assert "not a push" in DeadLetter.objects.get(event_id="forged-2").reason
    assert not list(markers.iterdir())
    assert not (tmp_path / "git-cache").exists()
