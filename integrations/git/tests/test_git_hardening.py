"""The git client runs git defensively: what a location, branch or revision could make git run, it refuses where
git is run (whatever checked it before), and what a hostile repository's own config could make git run when
the server reads it in place, git is told not to run. Real git, real repositories, a marker file as the oracle."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from builder.manifest.limits import MAX_MANIFEST_BYTES
from integrations.git.client import GitError, GitRepositoryCache, UnsafeGitArgument, git_invocation
from integrations.git.testing import GitRepository

MANIFEST = b"stages: {build: {image: alpine}}\n"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepository:
    repository = GitRepository(tmp_path / "acme" / "api")
    repository.commit({".estafette.yaml": MANIFEST.decode()}, "first")
    return repository


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


def injected_locations(marker: Path) -> list[str]:
    return [
        f"--upload-pack=touch {marker};true x@host:owner/repo",  # scp form: git fetch read it as an option
        f"-c core.sshCommand=touch {marker} host:owner/repo",
        f"ext::sh -c touch% {marker}/acme/api",
        f"ssh://-oProxyCommand=touch {marker}/acme/api",
        f"-oProxyCommand=touch {marker}@host:acme/api",
        f"host:-x{marker}/acme/api",
        "https://example.com/acme/api\n--upload-pack=x",
    ]


def test_it_refuses_locations_git_would_read_as_options_or_commands(tmp_path: Path, marker: Path) -> None:
    cache = GitRepositoryCache(tmp_path / "cache", timeout=20)
    for location in injected_locations(marker):
        with pytest.raises(UnsafeGitArgument, match="refusing to run git"):
            cache.resolve_branch(url=location, branch="main")
        with pytest.raises(UnsafeGitArgument, match="refusing to run git"):
            cache.read_revision(url=location, revision="a" * 40)
    assert not marker.exists()
    assert not (tmp_path / "cache").exists()  # refused before any git ran


@pytest.mark.parametrize("branch", ["--output=/tmp/x", "-b", "main\n--upload-pack=x", "ma in", "main\x7f"])
def test_it_refuses_branches_git_would_read_as_options(repo: GitRepository, tmp_path: Path, branch: str) -> None:
    with pytest.raises(UnsafeGitArgument, match="refusing to run git: branch"):
        GitRepositoryCache(tmp_path / "cache").resolve_branch(url=str(repo.path), branch=branch)


@pytest.mark.parametrize("revision", ["--all", "-1", "HEAD", "abc\n--batch", "main"])
def test_it_refuses_revisions_that_are_not_commit_ids(repo: GitRepository, tmp_path: Path, revision: str) -> None:
    with pytest.raises(UnsafeGitArgument, match="refusing to run git: revision"):
        GitRepositoryCache(tmp_path / "cache").read_revision(url=str(repo.path), revision=revision)


def make_partial_clone_with_a_hostile_promisor(repo: GitRepository, tmp_path: Path, marker: Path) -> Path:
    """A bare repository whose manifest blob is missing and whose config names a promisor remote with an
    ``uploadpack`` command: git fetches missing objects of a partial clone lazily, running that command."""
    hostile = tmp_path / "hostile" / "acme" / "api.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--no-local", str(repo.path), str(hostile)], check=True)
    blob = repo.git("rev-parse", "HEAD:.estafette.yaml").strip()
    kept = [line for line in repo.git("rev-list", "--objects", "--all").splitlines() if not line.startswith(blob)]
    for pack in (hostile / "objects" / "pack").iterdir():
        pack.unlink()
    subprocess.run(  # every object but the blob, packed from the source repository
        ["git", "--git-dir", str(repo.path / ".git"), "pack-objects", "-q", str(hostile / "objects" / "pack" / "pack")],
        input="\n".join(line.split()[0] for line in kept) + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    for key, value in (
        ("core.repositoryformatversion", "1"),
        ("extensions.partialClone", "origin"),
        ("remote.origin.url", str(repo.path)),
        ("remote.origin.promisor", "true"),
        ("remote.origin.uploadpack", f"touch {marker}; git-upload-pack"),
        ("core.hooksPath", str(tmp_path / "hooks")),
        ("core.fsmonitor", f"touch {marker}; echo"),
    ):
        subprocess.run(["git", "--git-dir", str(hostile), "config", key, value], check=True)
    return hostile


def test_reading_a_hostile_local_repository_in_place_runs_none_of_its_commands(
    repo: GitRepository, tmp_path: Path, marker: Path
) -> None:
    # given a local partial clone whose promisor remote's upload-pack command writes the marker, and plain git
    # running it when the missing blob is asked for (the proof that the repository is hostile)
    hostile = make_partial_clone_with_a_hostile_promisor(repo, tmp_path, marker)
    blob = repo.git("rev-parse", "HEAD:.estafette.yaml").strip()
    plain = subprocess.run(["git", "--git-dir", str(hostile), "cat-file", "-p", blob], capture_output=True, check=False)
    assert plain.returncode == 0 and marker.exists(), plain.stderr
    marker.unlink()
    for pack in (hostile / "objects" / "pack").glob("*.promisor"):  # forget what that lazy fetch brought
        for part in pack.parent.glob(pack.stem + ".*"):
            part.unlink()

    # when the server reads the manifest at the head, in place
    commit, manifest = GitRepositoryCache(tmp_path / "cache").read_revision(url=str(hostile), revision=repo.head())

    # then the commit is read, the missing blob is missing (no lazy fetch), and nothing ran
    assert commit.revision == repo.head()
    assert manifest is None
    assert not marker.exists()


def test_a_remote_location_may_not_use_the_file_transport(repo: GitRepository, tmp_path: Path) -> None:
    # given git as the client runs it for a remote repository (http, https, ssh, git only)
    argv, env = git_invocation(tmp_path / "unused.git", ["ls-remote", "--", str(repo.path)], local=False)

    # when it is pointed at a path on this machine (what a redirect or a rewritten URL could lead to)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)

    # then git refuses the transport
    assert result.returncode != 0
    assert "transport 'file' not allowed" in result.stderr


def test_the_servers_git_environment_and_config_do_not_reach_git(monkeypatch, tmp_path: Path) -> None:
    # given a process environment that would change which repository, config or programs git uses
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f"[core]\n\thooksPath = {tmp_path}\n")
    for name, value in {
        "HOME": str(home),
        "GIT_DIR": str(tmp_path),
        "GIT_CONFIG_PARAMETERS": "'core.sshcommand'='touch /tmp/x'",
        "GIT_CONFIG_COUNT": "1",
        "GIT_EXEC_PATH": str(tmp_path),
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
    }.items():
        monkeypatch.setenv(name, value)

    # when the client builds git's environment
    argv, env = git_invocation(tmp_path / "mirror.git", ["rev-parse", "--git-dir"], local=True)

    # then those are dropped and the operator's ssh setting kept; global and system config are off
    assert not {"GIT_DIR", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_EXEC_PATH"} & env.keys()
    assert env["GIT_SSH_COMMAND"] == "ssh -o BatchMode=yes"
    assert (env["GIT_CONFIG_GLOBAL"], env["GIT_CONFIG_NOSYSTEM"], env["GIT_NO_LAZY_FETCH"]) == ("/dev/null", "1", "1")
    shown = subprocess.run(
        [*argv[: argv.index(f"--git-dir={tmp_path / 'mirror.git'}")], "config", "--show-origin", "core.hooksPath"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.stdout.strip() == "command line:\t/dev/null"


def test_a_huge_manifest_is_not_read_into_memory(repo: GitRepository, tmp_path: Path) -> None:
    # given a manifest of 20 MB
    revision = repo.commit({".estafette.yaml": "#" * 20_000_000}, "huge")

    # when it is read
    commit, manifest = GitRepositoryCache(tmp_path / "cache").read_revision(url=str(repo.path), revision=revision)

    # then one byte past the limit is read: enough for the manifest library to refuse it
    assert commit.revision == revision
    assert manifest is not None and len(manifest) == MAX_MANIFEST_BYTES + 1


def test_a_missing_branch_is_a_permanent_error_and_an_unreachable_remote_is_not(
    repo: GitRepository, tmp_path: Path
) -> None:
    cache = GitRepositoryCache(tmp_path / "cache", timeout=20)
    with pytest.raises(GitError) as missing:
        cache.resolve_branch(url=str(repo.path), branch="nope")
    with pytest.raises(GitError) as unreachable:
        cache.resolve_branch(url="https://127.0.0.1:9/acme/api.git", branch="main")
    assert (missing.value.permanent, unreachable.value.permanent) == (True, False)
