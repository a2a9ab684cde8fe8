"""The native git-clone stage with the real git CLI against a local repository."""

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from builder.contracts import Credential, GitConfig
from builder.executors.host import HostExecutor
from builder.gitclone import CloneOptions, clone_url, git_clone, source_token
from builder.manifest.when import evaluate_when
from builder.plan import StagePlan
from builder.runner import PipelineRunner, RunContext
from builder.secrets import Masker
from builder.testing import RecordingSink


def git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(directory), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with 60 commits on main (more than the shallow depth) and a feature branch."""
    repo = tmp_path_factory.mktemp("origin")
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


def run_clone(workspace: Path, git_config: GitConfig, **stage_fields: object) -> tuple[str, RecordingSink]:
    sink = RecordingSink()
    runner = PipelineRunner(
        RunContext(
            executor=HostExecutor(sandbox=False),
            sink=sink,
            workspace=workspace,
            evaluate_when=evaluate_when,
            git=git_config,
            masker=Masker(["the-source-token"]),
            credentials=(
                Credential(name="src", type="github-api-token", additional_properties={"token": "the-source-token"}),
            ),
        )
    )
    clone = StagePlan(name="git-clone", image="extensions/git-clone:stable", auto_injected=True, **stage_fields)  # type: ignore[arg-type]
    return runner.run([clone]), sink


def config_for(origin: Path, branch: str, revision: str) -> GitConfig:
    return GitConfig(
        repo_source="github.com",
        repo_owner="acme",
        repo_name="api",
        repo_branch=branch,
        repo_revision=revision,
        repo_url=f"file://{origin}",
    )


def test_it_clones_the_branch_shallow_and_checks_out_the_exact_revision(origin: Path, tmp_path: Path) -> None:
    # given a revision 5 commits before the branch head
    revision = git(origin, "rev-parse", "main~5")
    # when the git-clone stage runs
    final, sink = run_clone(tmp_path, config_for(origin, "main", revision))
    # then that revision is checked out, on the branch, with shallow history
    assert final == "succeeded", sink.texts("git-clone")
    assert git(tmp_path, "rev-parse", "HEAD") == revision
    assert git(tmp_path, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert (tmp_path / "counter.txt").read_text() == "54\n"
    assert git(tmp_path, "rev-parse", "--is-shallow-repository") == "true"
    assert int(git(tmp_path, "rev-list", "--count", "HEAD")) <= 50
    assert sink.step("git-clone").status == "SUCCEEDED"


def test_it_runs_no_more_git_processes_than_needed_for_the_branch_head(origin: Path, tmp_path: Path) -> None:
    # given the head of the branch (what a push builds) and a revision behind it
    subcommands: list[str] = []

    def run(argv: Sequence[str], shown: str) -> int:
        words = list(argv)
        while words[0] in ("-c", "-C"):  # options with a value, before the subcommand
            words = words[2:]
        subcommands.append(words[0])
        return subprocess.run(["git", *argv], check=False, capture_output=True).returncode

    def clone(revision: str, workspace: Path) -> list[str]:
        subcommands.clear()
        config = config_for(origin, "main", revision)
        assert git_clone(git=config, token=None, workspace=workspace, options=CloneOptions(), run=run) == 0
        assert git(workspace, "rev-parse", "HEAD") == revision
        return list(subcommands)

    # when each is cloned
    head = clone(git(origin, "rev-parse", "main"), tmp_path / "head")
    behind = clone(git(origin, "rev-parse", "main~3"), tmp_path / "behind")

    # then the head needs no check that the commit arrived; the clone has no sample hooks to write and delete
    assert head == ["init", "remote", "fetch", "checkout"]
    assert behind == ["init", "remote", "fetch", "cat-file", "checkout"]
    assert not (tmp_path / "head" / ".git" / "hooks").exists()


def test_it_keeps_a_small_fetch_as_one_pack_not_a_file_per_object(origin: Path, tmp_path: Path) -> None:
    # given a fetch of a few objects (git would write each as a file of its own)
    head = git(origin, "rev-parse", "main")
    # when
    final, sink = run_clone(tmp_path, config_for(origin, "main", head), custom_properties={"depth": 3})
    # then
    assert final == "succeeded", sink.texts("git-clone")
    counts = dict(line.split(": ") for line in git(tmp_path, "count-objects", "-v").splitlines())
    assert (counts["count"], counts["packs"]) == ("0", "1")


def test_it_fetches_a_revision_older_than_the_shallow_history(origin: Path, tmp_path: Path) -> None:
    revision = git(origin, "rev-parse", "main~55")
    final, sink = run_clone(tmp_path, config_for(origin, "main", revision))
    assert final == "succeeded", sink.texts("git-clone")
    assert git(tmp_path, "rev-parse", "HEAD") == revision
    assert (tmp_path / "counter.txt").read_text() == "4\n"


def test_it_clones_another_branch_into_a_subdirectory_when_asked(origin: Path, tmp_path: Path) -> None:
    feature = git(origin, "rev-parse", "feature")
    final, sink = run_clone(
        tmp_path, config_for(origin, "feature", feature), custom_properties={"subdir": "src", "shallow": False}
    )
    assert final == "succeeded", sink.texts("git-clone")
    assert (tmp_path / "src" / "feature.txt").exists()
    assert git(tmp_path / "src", "rev-parse", "--is-shallow-repository") == "false"


def test_it_fails_the_stage_for_an_unknown_branch(origin: Path, tmp_path: Path) -> None:
    final, sink = run_clone(tmp_path, config_for(origin, "does-not-exist", "0" * 40))
    assert final == "failed"
    assert sink.step("git-clone").status == "FAILED"
    assert sink.step("git-clone").exit_code not in (None, 0)


def test_it_puts_the_token_only_in_the_fetch_url_never_in_the_log_or_the_remote(origin: Path, tmp_path: Path) -> None:
    # given a clone whose URL would carry the token (an https URL that fails fast: nothing listens there)
    config = GitConfig(
        repo_source="github.com",
        repo_owner="acme",
        repo_name="api",
        repo_branch="main",
        repo_revision="0" * 40,
        repo_url="http://127.0.0.1:9/acme/api.git",
    )
    # when it runs and fails
    final, sink = run_clone(tmp_path, config)
    # then the token appears nowhere in the output nor in .git/config
    assert final == "failed"
    assert not any("the-source-token" in text for text in sink.texts("git-clone"))
    assert "the-source-token" not in (tmp_path / ".git" / "config").read_text()
    assert git(tmp_path, "remote", "get-url", "origin") == "http://127.0.0.1:9/acme/api.git"


def test_it_builds_estafettes_clone_urls() -> None:
    def config(source: str) -> GitConfig:
        return GitConfig(repo_source=source, repo_owner="acme", repo_name="api", repo_branch="m", repo_revision="r")

    assert clone_url(config("github.com"), token="t/k") == "https://x-access-token:t%2Fk@github.com/acme/api"
    assert clone_url(config("bitbucket.org"), token="tk") == "https://x-token-auth:tk@bitbucket.org/acme/api"
    assert clone_url(config("source.developers.google.com"), token="tk") == (
        "https://estafette:tk@source.developers.google.com/p/acme/r/api"
    )
    assert clone_url(config("github.com"), token=None, repo="other") == "https://github.com/acme/other"
    assert source_token([Credential(name="x", type="bitbucket-api-token", additional_properties={"token": "b"})]) == "b"
    assert CloneOptions.from_custom_properties({"depth": 10, "shallow": "false"}) == CloneOptions(
        shallow=False, depth=10
    )
