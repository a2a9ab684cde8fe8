import pytest

from integrations.git.identity import InvalidRepository, identify_repository, is_local


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("https://github.com/acme/api.git", "github.com/acme/api"),
        ("https://GitHub.com/acme/api", "github.com/acme/api"),
        ("https://x-access-token:abc@github.com/acme/api.git", "github.com/acme/api"),
        ("git@github.com:acme/api.git", "github.com/acme/api"),
        ("ssh://git@bitbucket.org:22/team/service.git", "bitbucket.org/team/service"),
        ("https://gitlab.com/group/sub/project.git", "gitlab.com/sub/project"),
        ("/srv/git/acme/api.git", "local/acme/api"),
        ("/home/me/code/hello", "local/code/hello"),
        ("file:///srv/git/acme/api.git", "local/acme/api"),
        ("./work/demo", "local/work/demo"),
    ],
)
def test_it_names_the_pipeline_after_the_repository(location: str, expected: str) -> None:
    assert identify_repository(location).full_name == expected


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("", "empty"),
        ("https://github.com/justone", "needs an owner and a repository name"),
        ("ftp://example.com/a/b", "unsupported scheme"),
        ("/srv/git/acme/bad name", "not a valid owner or repository name"),
    ],
)
def test_it_refuses_what_cannot_name_a_pipeline(location: str, reason: str) -> None:
    with pytest.raises(InvalidRepository, match=reason):
        identify_repository(location)


def test_it_tells_local_repositories_from_remote_ones() -> None:
    assert is_local("/srv/git/a/b") and is_local("file:///x/a/b")
    assert not is_local("git@github.com:a/b.git") and not is_local("https://github.com/a/b")
