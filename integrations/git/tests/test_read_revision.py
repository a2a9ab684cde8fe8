"""``GitRepositoryCache.read_revision``: commit and manifest in one git process, fetching what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.git.client import GitError, GitRepositoryCache
from integrations.git.testing import GitRepository


@pytest.fixture
def repo(tmp_path: Path) -> GitRepository:
    return GitRepository(tmp_path / "acme" / "api")


def test_it_reads_the_commit_and_the_manifest_at_a_revision(repo: GitRepository, tmp_path: Path) -> None:
    # given two revisions, the second not fetched into the mirror yet when the first is read
    first = repo.commit({".estafette.yaml": "stages: {one: {image: a}}\n"}, "First\n\nWith a body.\n\nAnd more.")
    cache = GitRepositoryCache(tmp_path / "cache")
    commit, text = cache.read_revision(url=str(repo.path), revision=first)
    repo.git(
        "-c",
        "user.name=Émile Zola",
        "-c",
        "user.email=emile@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "Zweite Änderung",
    )
    second = repo.head()

    # when
    later, later_text = cache.read_revision(url=str(repo.path), revision=second[:12])

    # then
    assert (commit.revision, commit.author_name, commit.author_email) == (first, "Ada Lovelace", "ada@example.com")
    assert commit.message == "First\n\nWith a body.\n\nAnd more."
    assert text == b"stages: {one: {image: a}}\n"
    assert (later.revision, later.author_name, later.message) == (second, "Émile Zola", "Zweite Änderung")
    assert later_text == text


def test_a_revision_without_the_file_gives_none(repo: GitRepository, tmp_path: Path) -> None:
    revision = repo.commit({"README": "hi"})
    commit, text = GitRepositoryCache(tmp_path / "cache").read_revision(url=str(repo.path), revision=revision)
    assert (commit.revision, text) == (revision, None)


def test_an_unknown_revision_is_an_error(repo: GitRepository, tmp_path: Path) -> None:
    repo.commit({"README": "hi"})
    with pytest.raises(GitError, match="revision 0123456789abcdef does not exist"):
        GitRepositoryCache(tmp_path / "cache").read_revision(url=str(repo.path), revision="0123456789abcdef")


def test_it_reads_a_local_repository_in_place_without_a_mirror(repo: GitRepository, tmp_path: Path) -> None:
    # given a local repository, as a path and as a file:// URL, its clone bare
    revision = repo.commit({".estafette.yaml": "stages: {one: {image: a}}\n"})
    bare = tmp_path / "bare" / "api.git"
    repo.git("clone", "-q", "--bare", str(repo.path), str(bare))
    cache = GitRepositoryCache(tmp_path / "cache")

    # when
    found = [cache.read_revision(url=url, revision=revision) for url in (str(repo.path), f"file://{bare}")]
    head = cache.resolve_branch(url=str(repo.path), branch="main")

    # then both were read where they are: no mirror was made (nothing fetched)
    assert [(commit.revision, text) for commit, text in found] == [(revision, b"stages: {one: {image: a}}\n")] * 2
    assert head == revision
    assert not (tmp_path / "cache").exists()
