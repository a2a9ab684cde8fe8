"""A local repository's clone borrows its objects (``objects/info/alternates``), and every later stage of the run sees
that objects directory (builder/gitclone.py). Hostile later stages try to write into the source repository through
it; the sandbox shows it read-only, so nothing reaches the host, even where the files' permissions would let the
stage's uid write them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.contracts import GitConfig
from builder.executors.host import HostExecutor
from builder.executors.sandbox import sandbox_support
from builder.manifest.when import evaluate_when
from builder.plan import StagePlan
from builder.runner import PipelineRunner, RunContext
from builder.testing import RecordingSink

IDENTITY = ["-c", "user.email=t@example.com", "-c", "user.name=t"]


def git(repo: Path, *args: str) -> str:
    argv = ["git", "-c", "safe.directory=*", "-C", str(repo), *args]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A local repository with a pack and loose objects, whose every file and directory anyone may write: only the
    sandbox's read-only mount stands between a stage and it."""
    repo = tmp_path / "origin"
    repo.mkdir(mode=0o755)
    git(repo, "init", "-q", "-b", "main")
    for number in range(3):
        (repo / "file.txt").write_text(f"{number}\n")
        git(repo, "add", "file.txt")
        git(repo, *IDENTITY, "commit", "-q", "-m", f"commit {number}")
        if number == 1:
            git(repo, "gc", "-q")
    for path in [repo, *repo.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o777 if path.is_dir() else 0o666)
    return repo


@pytest.fixture
def executor() -> Iterator[HostExecutor]:
    assert sandbox_support().available, f"the security suite needs a working sandbox: {sandbox_support().reason}"
    chosen = HostExecutor(sandbox=True)
    chosen.open(run_id="borrowed-objects")
    try:
        yield chosen
    finally:
        chosen.close()


def snapshot(tree: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry under ``tree``: mode, link count and content hash (files)."""
    entries = {}
    for path in [tree, *tree.rglob("*")]:
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        entries[str(path.relative_to(tree))] = (info.st_mode, info.st_nlink, digest)
    return entries


def run(executor: HostExecutor, workspace: Path, origin: Path, *stages: StagePlan) -> RecordingSink:
    sink = RecordingSink()
    config = GitConfig(
        repo_source="github.com",
        repo_owner="acme",
        repo_name="api",
        repo_branch="main",
        repo_revision=git(origin, "rev-parse", "main"),
        repo_url=str(origin),
    )
    clone = StagePlan(name="git-clone", image="extensions/git-clone:stable", auto_injected=True)
    runner = PipelineRunner(
        RunContext(
            executor=executor, sink=sink, workspace=workspace, evaluate_when=evaluate_when, git=config, stop_grace=3.0
        )
    )
    runner.run([clone, *stages])
    return sink


def printed(sink: RecordingSink, name: str) -> str:
    """What the stage's commands printed, without the builder's grey echo of each command (``> command``)."""
    return "\n".join(text for text in sink.texts(name) if not text.startswith("\x1b[38;5;245m> "))


ATTACKS = {
    # git reads a pack or an object by its name: changing one would change what other builds check out
    "append to every object and pack": 'find "$OBJECTS" -type f | while read -r f; do chmod u+w "$f"; '
    'printf x >> "$f" && echo "WROTE $f"; done; true',
    "replace an object file": 'f=$(find "$OBJECTS" -path "*/[0-9a-f][0-9a-f]/*" -type f | head -n 1); '
    'rm -f "$f" && echo "REMOVED $f"; printf x > "$f" && echo "WROTE $f"; true',
    # alternates of the source would make every later clone read objects the build chose
    "write the source's alternates": 'echo /tmp > "$OBJECTS/info/alternates" && echo WROTE; true',
    "add a pack to the source": 'cp .git/index "$OBJECTS/pack/pack-evil.pack" && echo WROTE; true',
    "remove the source's objects": 'rm -rf "$OBJECTS"/* && echo REMOVED; true',
    "move the objects directory": 'mv "$OBJECTS" "$OBJECTS.moved" && echo MOVED; true',
    # git in the workspace: a repack that drops what it took from the alternates, a prune, a gc
    "git repack and prune in the workspace": "git repack -a -d -q; git prune; git gc -q --prune=now; true",
    # the source's refs and hooks are not shown to later stages; writing where they would be reaches nothing
    "write the source's refs and hooks": 'd=$(dirname "$OBJECTS"); mkdir -p "$d/hooks" "$d/refs/heads" 2>/dev/null; '
    'echo x > "$d/hooks/post-update" && echo WROTE-HOOK; echo 0 > "$d/refs/heads/main" && echo WROTE-REF; true',
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_later_stage_cannot_write_into_the_local_repository_it_borrows_from(
    executor: HostExecutor, origin: Path, tmp_path: Path, attack: str
) -> None:
    # given a clone that borrows the local repository's objects, and the repository as it was
    before = snapshot(origin)
    head = git(origin, "rev-parse", "main")
    workspace = tmp_path / "work"
    workspace.mkdir()
    objects = (origin / ".git" / "objects").resolve()
    hostile = StagePlan(
        name="hostile", image="alpine:3", commands=(f"( {ATTACKS[attack]} ) || true",), env={"OBJECTS": str(objects)}
    )
    after_it = StagePlan(name="after", image="alpine:3", commands=("git log -1 --format=%H", "git status --short"))
    # when a later stage attacks it, and another runs git after that
    sink = run(executor, workspace, origin, hostile, after_it)
    # then the clone borrowed (the attack had its target), and the source repository is unchanged
    assert sink.step("git-clone").status == "SUCCEEDED", sink.texts("git-clone")
    assert (workspace / ".git" / "objects" / "info" / "alternates").read_text() == f"{objects}\n"
    assert snapshot(origin) == before
    assert not any(word in printed(sink, "hostile") for word in ("WROTE", "REMOVED", "MOVED"))
    assert git(origin, "rev-parse", "main") == head
    assert git(origin, "fsck", "--no-dangling") == ""
    # and git still works in the clone of the stage after it
    assert head in sink.texts("after"), sink.texts("after")


def test_a_clone_shows_later_stages_only_the_objects_not_the_rest_of_the_repository(
    executor: HostExecutor, origin: Path, tmp_path: Path
) -> None:
    # given the repository's configuration, holding something only the server should read
    with (origin / ".git" / "config").open("a") as config:
        config.write("[estafette]\n\tmarker = config-of-the-source\n")
    workspace = tmp_path / "work"
    workspace.mkdir()
    peek = StagePlan(
        name="peek",
        image="alpine:3",
        commands=(f"(cat {origin}/.git/config {origin}/file.txt; ls {origin}/.git) 2>&1 || true",),
    )
    # when a later stage looks at the repository beside its objects
    sink = run(executor, workspace, origin, peek)
    # then it sees the objects directory only
    shown = printed(sink, "peek")
    assert sink.step("peek").status == "SUCCEEDED", shown
    assert "config-of-the-source" not in shown
    assert "objects" in shown and "config" not in shown.replace(f"{origin}/.git/config", "")
    assert os.path.exists(origin / ".git" / "config")


def test_a_borrowed_objects_directory_is_not_shown_to_the_next_run_of_the_executor(
    executor: HostExecutor, origin: Path, tmp_path: Path
) -> None:
    # given a run whose clone borrowed the repository's objects, then closed
    objects = (origin / ".git" / "objects").resolve()
    (tmp_path / "first").mkdir()
    assert run(executor, tmp_path / "first", origin).step("git-clone").status == "SUCCEEDED"
    executor.close()
    # when the same executor runs another build, without a clone
    executor.open(run_id="next")
    look = StagePlan(name="look", image="alpine:3", commands=(f"ls {objects} 2>&1 || echo NOT-THERE",))
    (tmp_path / "next").mkdir()
    sink = RecordingSink()
    PipelineRunner(
        RunContext(executor=executor, sink=sink, workspace=tmp_path / "next", evaluate_when=evaluate_when)
    ).run([look])
    # then it does not see them
    assert "NOT-THERE" in printed(sink, "look")
