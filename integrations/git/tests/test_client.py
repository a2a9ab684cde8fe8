"""Reads files at a revision through the mirror cache, against real git repositories."""

import subprocess
from pathlib import Path

import pytest

from integrations.git.client import GitError, GitRepositoryCache, scrub

GIT_IDENTITY = ["-c", "user.name=Ada", "-c", "user.email=ada@example.com", "-c", "init.defaultBranch=main"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def commit_file(repo: Path, name: str, text: str, message: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "acme" / "api"
    path.mkdir(parents=True)
    git(path, "init", "-q")
    return path


def test_it_reads_the_manifest_at_each_revision(repo: Path, tmp_path: Path) -> None:
    # given two revisions with different manifests
    first = commit_file(repo, ".estafette.yaml", "stages: {one: {image: a}}\n", "first")
    second = commit_file(repo, ".estafette.yaml", "stages: {two: {image: b}}\n", "second")
    cache = GitRepositoryCache(tmp_path / "cache")
    # when / then: each revision gives its own text, fetching only what is missing
    assert b"one" in (cache.read_file(url=str(repo), revision=first) or b"")
    assert b"two" in (cache.read_file(url=str(repo), revision=second) or b"")
    third = commit_file(repo, "README", "hi", "no manifest change")
    assert b"two" in (cache.read_file(url=str(repo), revision=third) or b"")


def test_it_returns_none_without_a_manifest(repo: Path, tmp_path: Path) -> None:
    revision = commit_file(repo, "README", "hi", "init")
    assert GitRepositoryCache(tmp_path / "cache").read_file(url=str(repo), revision=revision) is None


def test_it_resolves_a_branch_and_describes_the_commit(repo: Path, tmp_path: Path) -> None:
    revision = commit_file(repo, "README", "hi", "Add a readme\n\nWith a body.")
    cache = GitRepositoryCache(tmp_path / "cache")
    assert cache.resolve_branch(url=f"file://{repo}", branch="main") == revision
    info = cache.commit_info(url=str(repo), revision=revision)
    assert (info.author_name, info.author_email) == ("Ada", "ada@example.com")
    assert info.message.startswith("Add a readme")


def test_it_says_which_revision_or_branch_is_missing(repo: Path, tmp_path: Path) -> None:
    commit_file(repo, "README", "hi", "init")
    cache = GitRepositoryCache(tmp_path / "cache")
    with pytest.raises(GitError, match="revision deadbeef does not exist"):
        cache.read_file(url=str(repo), revision="deadbeef")
    with pytest.raises(GitError, match="branch 'nope' does not exist"):
        cache.resolve_branch(url=str(repo), branch="nope")


def test_it_never_reports_credentials(tmp_path: Path) -> None:
    cache = GitRepositoryCache(tmp_path / "cache", timeout=20)
    url = "https://x-access-token:ghs_supersecret@127.0.0.1:9/acme/api.git"
    with pytest.raises(GitError) as error:
        cache.resolve_branch(url=url, branch="main")
    assert "ghs_supersecret" not in str(error.value)
    assert scrub(url) == "https://***@127.0.0.1:9/acme/api.git"
