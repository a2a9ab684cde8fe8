"""The native git-clone stage: one script with the real git CLI, in the host executor's sandbox (bwrap) where this
machine has one, against a local repository and a git server over HTTP with authentication."""

import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from builder.contracts import Credential, GitConfig
from builder.executors.host import HostExecutor
from builder.gitclone import (
    TOKEN_VARIABLE,
    CloneError,
    CloneOptions,
    clone_script,
    clone_url,
    source_token,
    source_token_type,
    token_user,
)
from builder.manifest.when import evaluate_when
from builder.plan import StagePlan
from builder.runner import PipelineRunner, RunContext
from builder.secrets import Masker
from builder.testing import RecordingSink
from builder.tests.gitserver import GitHttpServer

TOKEN = "the-source-token"


def git(directory: Path, *args: str) -> str:
    # the clone belongs to the sandbox's uid: git (run here as root) would call it dubious
    argv = ["git", "-c", "safe.directory=*", "-C", str(directory), *args]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with 60 commits on main (more than the shallow depth) and a feature branch, readable by others
    (as a clone running as the sandbox's uid needs it)."""
    repo = tmp_path_factory.mktemp("origin")
    repo.chmod(0o755)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    for number in range(60):
        (repo / "counter.txt").write_text(f"{number}\n")
        git(repo, "add", "counter.txt")
        git(repo, "commit", "-q", "-m", f"commit {number}")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "feature.txt").write_text("feature\n")
    git(repo, "add", "feature.txt")
    git(repo, "commit", "-q", "-m", "feature")
    git(repo, "checkout", "-q", "main")
    return repo


def run_clone(
    workspace: Path, git_config: GitConfig, *, executor: HostExecutor | None = None, **stage_fields: object
) -> tuple[str, RecordingSink]:
    sink = RecordingSink()
    runner = PipelineRunner(
        RunContext(
            executor=executor or HostExecutor(allow_unsandboxed=True),
            sink=sink,
            workspace=workspace,
            evaluate_when=evaluate_when,
            git=git_config,
            masker=Masker([TOKEN]),
            credentials=(Credential(name="src", type="github-api-token", additional_properties={"token": TOKEN}),),
        )
    )
    clone = StagePlan(name="git-clone", image="extensions/git-clone:stable", auto_injected=True, **stage_fields)  # type: ignore[arg-type]
    try:
        return runner.run([clone]), sink
    finally:
        runner.context.executor.close()  # type: ignore[attr-defined]


def config_for(origin: Path, branch: str, revision: str, *, repo_url: str | None = None) -> GitConfig:
    return GitConfig(
        repo_source="github.com",
        repo_owner="acme",
        repo_name="api",
        repo_branch=branch,
        repo_revision=revision,
        repo_url=repo_url or f"file://{origin}",
    )


def test_it_clones_the_branch_shallow_and_checks_out_the_exact_revision(origin: Path, tmp_path: Path) -> None:
    # given a revision 5 commits before the branch head
    revision = git(origin, "rev-parse", "main~5")
    # when the git-clone stage runs
    final, sink = run_clone(tmp_path, config_for(origin, "main", revision))
    # then that revision is checked out, on the branch, with shallow history, and each git command was shown
    assert final == "succeeded", sink.texts("git-clone")
    assert git(tmp_path, "rev-parse", "HEAD") == revision
    assert git(tmp_path, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert (tmp_path / "counter.txt").read_text() == "54\n"
    assert git(tmp_path, "rev-parse", "--is-shallow-repository") == "true"
    assert int(git(tmp_path, "rev-list", "--count", "HEAD")) <= 50
    assert sink.step("git-clone").status == "SUCCEEDED"
    shown = [text for text in sink.texts("git-clone") if text.startswith("> ")]
    assert shown == [
        "> git init /estafette-work",
        f"> git remote add origin {origin}",
        "> git fetch --depth=50 origin main",
        f"> git checkout -B main {revision}",
    ]


def test_it_runs_no_more_git_processes_than_needed_for_the_branch_head(
    origin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a git that records how it is called (unsandboxed, so that the test's PATH reaches the script)
    shim, calls = tmp_path / "bin", tmp_path / "calls"
    shim.mkdir()
    (shim / "git").write_text(
        f'#!/bin/sh\nfor a; do printf "%s\\n" "$a"; done >> {calls}\necho --- >> {calls}\nexec /usr/bin/git "$@"\n'
    )
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}:/usr/bin:/bin")

    def clone(revision: str, workspace: Path) -> list[str]:
        calls.write_text("")
        workspace.mkdir()
        final, sink = run_clone(workspace, config_for(origin, "main", revision), executor=HostExecutor(sandbox=False))
        assert final == "succeeded", sink.texts("git-clone")
        subcommands = []
        for call in calls.read_text().split("---\n")[:-1]:
            words = call.splitlines()
            while words[0] in ("-c", "-C") or words[0].startswith("--"):  # git's options, before the subcommand
                words = words[2:] if words[0] in ("-c", "-C") else words[1:]
            subcommands.append(words[0])
        assert git(workspace, "rev-parse", "HEAD") == revision
        return subcommands

    # when the head and a revision behind it are cloned
    head = clone(git(origin, "rev-parse", "main"), tmp_path / "head")
    behind = clone(git(origin, "rev-parse", "main~3"), tmp_path / "behind")

    # then the local repository is not fetched from (its objects are borrowed): the branch's history is read once,
    # which also tells that the revision lies in it; the clone has no sample hooks to write and delete
    assert head == ["init", "rev-list", "checkout"]
    assert behind == ["init", "rev-list", "checkout"]
    assert not (tmp_path / "head" / ".git" / "hooks").exists()


def test_it_keeps_a_small_fetch_as_one_pack_not_a_file_per_object(origin: Path, tmp_path: Path) -> None:
    # given a fetch of a few objects (git would write each as a file of its own) from a server (a local repository's
    # objects are borrowed, not fetched)
    served = tmp_path / "served"
    subprocess.run(["git", "clone", "-q", "--bare", str(origin), str(served / "api.git")], check=True)
    (tmp_path / "work").mkdir()
    head = git(origin, "rev-parse", "main")
    # when
    with GitHttpServer(served, user="x-access-token", password=TOKEN) as server:
        config = config_for(origin, "main", head, repo_url=server.url("api.git"))
        final, sink = run_clone(tmp_path / "work", config, custom_properties={"depth": 3})
    # then
    assert final == "succeeded", sink.texts("git-clone")
    counts = dict(line.split(": ") for line in git(tmp_path / "work", "count-objects", "-v").splitlines())
    assert (counts["count"], counts["packs"]) == ("0", "1")


def test_it_fetches_a_revision_older_than_the_shallow_history(origin: Path, tmp_path: Path) -> None:
    revision = git(origin, "rev-parse", "main~55")
    final, sink = run_clone(tmp_path, config_for(origin, "main", revision))
    assert final == "succeeded", sink.texts("git-clone")
    assert git(tmp_path, "rev-parse", "HEAD") == revision
    assert (tmp_path / "counter.txt").read_text() == "4\n"
    assert f"> git fetch --depth=1 origin {revision}" in sink.texts("git-clone")


def test_it_clones_another_branch_into_a_subdirectory_when_asked(origin: Path, tmp_path: Path) -> None:
    feature = git(origin, "rev-parse", "feature")
    final, sink = run_clone(
        tmp_path, config_for(origin, "feature", feature), custom_properties={"subdir": "src/", "shallow": False}
    )
    assert final == "succeeded", sink.texts("git-clone")
    assert (tmp_path / "src" / "feature.txt").exists()
    assert git(tmp_path / "src", "rev-parse", "--is-shallow-repository") == "false"
    assert "> git init /estafette-work/src" in sink.texts("git-clone")


def test_it_fails_the_stage_for_an_unknown_branch(origin: Path, tmp_path: Path) -> None:
    final, sink = run_clone(tmp_path, config_for(origin, "does-not-exist", "0" * 40))
    assert final == "failed"
    assert sink.step("git-clone").status == "FAILED"
    assert sink.step("git-clone").exit_code not in (None, 0)


def test_it_authenticates_with_the_token_without_showing_it_anywhere(origin: Path, tmp_path: Path) -> None:
    # given the repository behind a server that wants the token (as GitHub's x-access-token user)
    served = tmp_path / "served"
    subprocess.run(["git", "clone", "-q", "--bare", str(origin), str(served / "api.git")], check=True)
    (tmp_path / "work").mkdir()
    revision = git(origin, "rev-parse", "main")
    with GitHttpServer(served, user="x-access-token", password=TOKEN) as server:
        url = server.url("api.git")
        # when the git-clone stage runs
        final, sink = run_clone(tmp_path / "work", config_for(origin, "main", revision, repo_url=url))
        seen = list(server.authorizations)
    # then it cloned with the token, which is in no log line, not in .git/config, and not in the script
    assert final == "succeeded", sink.texts("git-clone")
    assert git(tmp_path / "work", "rev-parse", "HEAD") == revision
    assert any(authorization.startswith("Basic ") for authorization in seen)
    assert not any(TOKEN in text for text in sink.texts("git-clone"))
    assert TOKEN not in (tmp_path / "work" / ".git" / "config").read_text()
    assert git(tmp_path / "work", "remote", "get-url", "origin") == url
    script = clone_script(git=config_for(origin, "main", revision, repo_url=url), token=TOKEN, options=CloneOptions())
    assert TOKEN not in script.text and script.env[TOKEN_VARIABLE] == TOKEN


def test_it_fails_with_a_wrong_token_without_asking_for_one(origin: Path, tmp_path: Path) -> None:
    served = tmp_path / "served"
    subprocess.run(["git", "clone", "-q", "--bare", str(origin), str(served / "api.git")], check=True)
    (tmp_path / "work").mkdir()
    with GitHttpServer(served, user="x-access-token", password="another-token") as server:
        final, sink = run_clone(tmp_path / "work", config_for(origin, "main", "", repo_url=server.url("api.git")))
    assert final == "failed"
    assert not any(TOKEN in text for text in sink.texts("git-clone"))


def test_it_builds_estafettes_clone_urls_without_tokens() -> None:
    def config(source: str) -> GitConfig:
        return GitConfig(repo_source=source, repo_owner="acme", repo_name="api", repo_branch="m", repo_revision="r")

    assert clone_url(config("github.com")) == "https://github.com/acme/api"
    assert clone_url(config("bitbucket.org")) == "https://bitbucket.org/acme/api"
    assert clone_url(config("source.developers.google.com")) == "https://source.developers.google.com/p/acme/r/api"
    assert clone_url(config("github.com"), repo="other") == "https://github.com/acme/other"
    assert source_token([Credential(name="x", type="bitbucket-api-token", additional_properties={"token": "b"})]) == "b"
    assert CloneOptions.from_custom_properties({"depth": 10, "shallow": "false"}) == CloneOptions(
        shallow=False, depth=10
    )


def test_the_tokens_user_is_the_one_of_its_forge_also_on_a_host_that_is_not_the_public_one() -> None:
    # a Bitbucket token on a host other than bitbucket.org (the tests' Bitbucket) still goes with x-token-auth
    git = GitConfig(
        repo_source="127.0.0.1:8080", repo_owner="acme", repo_name="api", repo_branch="m", repo_revision="r"
    )
    bitbucket = [Credential(name="x", type="bitbucket-api-token", additional_properties={"token": "b"})]
    assert source_token_type(bitbucket) == "bitbucket-api-token"
    assert token_user(git, source_token_type(bitbucket)) == "x-token-auth"
    assert token_user(git, "github-api-token") == "x-access-token"
    assert token_user(git) == "x-access-token"
    assert token_user(replace(git, repo_source="bitbucket.org")) == "x-token-auth"
    script = clone_script(git=git, token="b", options=CloneOptions(), token_type="bitbucket-api-token")
    assert "username=x-token-auth" in script.text


BASE = GitConfig(
    repo_source="github.com", repo_owner="acme", repo_name="api", repo_branch="main", repo_revision="a" * 40
)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (
            {"revision": "--upload-pack=touch /tmp/x; true"},
            "revision '--upload-pack=touch /tmp/x; true' is not allowed",
        ),
        ({"revision": "HEAD\nrm -rf /"}, "is not allowed"),
        ({"revision": "a..b"}, "is not a commit id or reference name"),
        ({"branch": "--upload-pack=sh"}, "branch '--upload-pack=sh' is not allowed"),
        ({"branch": "main:refs/heads/x"}, "is not a valid branch name"),
        ({"branch": "ma in"}, "is not allowed"),
        ({"repo": "--upload-pack=sh"}, "repo '--upload-pack=sh' is not allowed"),
        ({"repo": "../other-owner/api"}, "is not a repository name of the same owner"),
        ({"subdir": "../../../../x"}, "must stay inside the workspace"),
        ({"subdir": "/etc"}, "must stay inside the workspace"),
        ({"subdir": "src/../../x"}, "must stay inside the workspace"),
        ({"depth": "deep"}, "depth must be a number"),
        ({"depth": -1}, "depth must be at least 1"),
    ],
)
def test_it_refuses_options_that_would_reach_outside_the_clone(properties: dict, message: str) -> None:
    with pytest.raises(CloneError, match=re.escape(message)):
        clone_script(git=BASE, token=None, options=CloneOptions.from_custom_properties(properties))


@pytest.mark.parametrize(
    "url",
    ["ext::sh -c touch% /tmp/pwned", "-uhttps://x", "fd::17", "relative/path", "https://host/a\nb", "ftp://h/x"],
)
def test_it_refuses_repository_urls_of_other_transports(url: str) -> None:
    config = GitConfig(
        repo_source="x", repo_owner="o", repo_name="n", repo_branch="main", repo_revision="", repo_url=url
    )
    with pytest.raises(CloneError):
        clone_script(git=config, token=None, options=CloneOptions())


def test_it_allows_only_the_transports_needed() -> None:
    https = clone_script(git=BASE, token=None, options=CloneOptions()).text
    local = clone_script(
        git=GitConfig(**{**BASE.__dict__, "repo_url": "/srv/git/api"}), token=None, options=CloneOptions()
    ).text
    for text in (https, local):
        assert "protocol.allow=never" in text and "protocol.https.allow=always" in text
        assert "protocol.ext.allow" not in text
    assert "protocol.file.allow=always" not in https and "protocol.file.allow=always" in local
    assert "protocol.http.allow=always" not in https


# --- a local repository: its objects borrowed, not fetched --------------------------------------------------------


def run_stages(workspace: Path, git_config: GitConfig, *stages: StagePlan, **clone_fields: object) -> RecordingSink:
    """The git-clone stage, then ``stages``, in one run of the sandboxed host executor."""
    sink = RecordingSink()
    executor = HostExecutor(allow_unsandboxed=True)
    runner = PipelineRunner(
        RunContext(executor=executor, sink=sink, workspace=workspace, evaluate_when=evaluate_when, git=git_config)
    )
    clone = StagePlan(name="git-clone", image="extensions/git-clone:stable", auto_injected=True, **clone_fields)  # type: ignore[arg-type]
    try:
        runner.run([clone, *stages])
    finally:
        executor.close()
    return sink


def test_a_local_clone_borrows_the_objects_and_a_later_stage_can_use_git(origin: Path, tmp_path: Path) -> None:
    # given the branch head of a local repository
    head = git(origin, "rev-parse", "main")
    later = StagePlan(
        name="later",
        image="alpine:3",
        commands=("git log -1 --format=commit=%H", "git status --porcelain --branch", "git rev-list --count HEAD"),
    )
    # when it is cloned, and a later stage runs git on the clone
    sink = run_stages(tmp_path, config_for(origin, "main", head), later)
    # then nothing was copied (no pack, no loose object, no hardlink), the objects are the source's, and the later
    # stage saw the commit, a clean work tree on main and the shallow history
    assert sink.step("git-clone").status == "SUCCEEDED", sink.texts("git-clone")
    assert sink.step("later").status == "SUCCEEDED", sink.texts("later")
    counts = dict(line.split(": ") for line in git(tmp_path, "count-objects", "-v").splitlines())
    assert (counts["count"], counts["packs"]) == ("0", "0")
    alternates = (tmp_path / ".git" / "objects" / "info" / "alternates").read_text()
    assert alternates == f"{(origin / '.git' / 'objects').resolve()}\n"
    assert all(path.stat().st_nlink == 1 for path in (tmp_path / ".git").rglob("*") if path.is_file())
    printed = sink.texts("later")
    assert f"commit={head}" in printed
    assert "## main" in printed and not any(text.startswith(("M ", "?? ", " M")) for text in printed)
    assert "50" in printed
    # and the ref and remote are the fetch's
    assert git(tmp_path, "rev-parse", "refs/remotes/origin/main") == head
    assert git(tmp_path, "config", "remote.origin.fetch") == "+refs/heads/*:refs/remotes/origin/*"
    assert git(tmp_path, "remote", "get-url", "origin") == str(origin)


def test_a_local_clone_keeps_the_whole_history_when_not_shallow(origin: Path, tmp_path: Path) -> None:
    head = git(origin, "rev-parse", "main~2")
    final, sink = run_clone(tmp_path, config_for(origin, "main", head), custom_properties={"shallow": False})
    assert final == "succeeded", sink.texts("git-clone")
    assert git(tmp_path, "rev-parse", "HEAD") == head
    assert git(tmp_path, "rev-parse", "--is-shallow-repository") == "false"
    assert git(tmp_path, "rev-list", "--count", "HEAD") == "58"
    assert git(tmp_path, "rev-parse", "refs/remotes/origin/main") == git(origin, "rev-parse", "main")


def test_a_local_clone_of_a_revision_off_the_branch_fetches_that_commit(origin: Path, tmp_path: Path) -> None:
    # given a revision that is not in the branch's history (the head of another branch)
    revision = git(origin, "rev-parse", "feature")
    # when
    final, sink = run_clone(tmp_path, config_for(origin, "main", revision))
    # then it is fetched on its own, as before, and checked out on the branch asked for
    assert final == "succeeded", sink.texts("git-clone")
    assert f"> git fetch --depth=1 origin {revision}" in sink.texts("git-clone")
    assert git(tmp_path, "rev-parse", "HEAD") == revision
    assert (tmp_path / "feature.txt").exists()
    assert revision in (tmp_path / ".git" / "shallow").read_text().split()


def commit_tree(repo: Path, tree: str, message: str, *parents: str, date: int | None = None) -> str:
    """A commit of ``tree`` with ``parents`` (``git commit-tree``), at ``date`` (seconds since the epoch) if given."""
    environment = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    environment |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    if date is not None:
        environment["GIT_COMMITTER_DATE"] = f"{date} +0000"
    arguments = [item for parent in parents for item in ("-p", parent)]
    argv = ["git", "-C", str(repo), "commit-tree", "-m", message, *arguments, tree]
    return subprocess.run(argv, check=True, capture_output=True, text=True, env=environment).stdout.strip()


def merge_history(repo: Path, *, skewed_dates: bool) -> Path:
    """A repository whose history has merges of side branches and of unrelated roots, at irregular distances; with
    ``skewed_dates`` the side lines' commits are dated long before the commits they start from (clocks out of step):
    git's date order then lists them after their parents, and a commit is first read at the end of a longer way from
    the head than its shortest one."""
    repo.chmod(0o755)
    git(repo, "init", "-q", "-b", "main")
    tree = git(repo, "write-tree")

    def commit(message: str, *parents: str) -> str:
        date = None
        if skewed_dates:  # the main line a minute apart, its side lines a year earlier
            minutes = len(commits) + (-525_600 if message.startswith("side") else 0)
            date = 1_700_000_000 + 60 * minutes
        return commit_tree(repo, tree, message, *parents, date=date)

    commits: list[str] = []
    commits.append(commit("root"))
    for number in range(1, 90):
        parents = [commits[-1]]
        if number % 7 == 0:
            parents.append(commits[max(0, len(commits) - 1 - number % 23)])  # a side branch from further back
        if number % 11 == 0:
            # a side line of a few commits from a recent one: some commits have a short and a long way to the head
            side = commits[-3]
            for step in range(number % 5 + 1):
                side = commit(f"side {number}.{step}", side)
            parents.insert(number % 2, side)
        if number % 17 == 0:
            parents.append(commit(f"root {number}"))  # an unrelated history
        commits.append(commit(f"commit {number}", *parents))
    git(repo, "update-ref", "refs/heads/main", commits[-1])
    return repo


@pytest.fixture(scope="module", params=["dates in order", "dates out of order"])
def merges(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return merge_history(tmp_path_factory.mktemp("merges"), skewed_dates=request.param == "dates out of order")


@pytest.mark.parametrize("depth", [1, 2, 5, 8, 13, 25, 30, 50, 200])
def test_a_local_clone_cuts_the_history_where_a_shallow_fetch_does(merges: Path, tmp_path: Path, depth: int) -> None:
    # given what git's own shallow fetch of the branch marks shallow
    fetched = tmp_path / "fetched"
    git(tmp_path, "init", "-q", str(fetched))
    git(fetched, "-c", "protocol.file.allow=always", "fetch", "-q", f"--depth={depth}", "--", str(merges), "main")
    shallow = fetched / ".git" / "shallow"
    expected = sorted(shallow.read_text().split()) if shallow.exists() else []
    # when the clone borrows the objects
    (tmp_path / "work").mkdir()
    head = git(merges, "rev-parse", "main")
    final, sink = run_clone(tmp_path / "work", config_for(merges, "main", head), custom_properties={"depth": depth})
    # then it marks the same commits shallow, and shows the same history
    assert final == "succeeded", sink.texts("git-clone")
    borrowed = tmp_path / "work" / ".git" / "shallow"
    assert (sorted(borrowed.read_text().split()) if borrowed.exists() else []) == expected
    assert git(tmp_path / "work", "rev-list", "--count", "HEAD") == git(fetched, "rev-list", "--count", "FETCH_HEAD")


def test_a_local_clone_reads_no_more_history_than_it_keeps(tmp_path: Path) -> None:
    # given a local repository of 300 commits whose older history cannot be read (the commit 100 before the head lost)
    repo = tmp_path / "long"
    repo.mkdir(mode=0o755)
    git(repo, "init", "-q", "-b", "main")
    tree = git(repo, "write-tree")
    commits: list[str] = []
    for number in range(300):
        commits.append(commit_tree(repo, tree, f"commit {number}", *commits[-1:]))
    git(repo, "update-ref", "refs/heads/main", commits[-1])
    lost = commits[-101]
    (repo / ".git" / "objects" / lost[:2] / lost[2:]).unlink()
    # when it is cloned 50 deep (the default)
    (tmp_path / "work").mkdir()
    final, sink = run_clone(tmp_path / "work", config_for(repo, "main", commits[-1]))
    # then only the 50 commits kept were read: the clone succeeded (a walk of the whole history fails on the lost one)
    assert final == "succeeded", sink.texts("git-clone")
    assert (tmp_path / "work" / ".git" / "objects" / "info" / "alternates").exists()
    assert git(tmp_path / "work", "rev-list", "--count", "HEAD") == "50"
    assert (tmp_path / "work" / ".git" / "shallow").read_text().split() == [commits[-50]]


def test_a_shallow_local_repository_is_fetched_from(origin: Path, tmp_path: Path) -> None:
    # given a local repository that is itself shallow (its own cut would change which commits are shallow)
    source = tmp_path / "source"
    subprocess.run(["git", "clone", "-q", "--depth=20", f"file://{origin}", str(source)], check=True)
    (tmp_path / "work").mkdir()
    head = git(source, "rev-parse", "main")
    # when
    final, sink = run_clone(tmp_path / "work", config_for(source, "main", head), custom_properties={"depth": 5})
    # then it was fetched from, as any repository
    assert final == "succeeded", sink.texts("git-clone")
    assert not (tmp_path / "work" / ".git" / "objects" / "info" / "alternates").exists()
    assert git(tmp_path / "work", "rev-list", "--count", "HEAD") == "5"
