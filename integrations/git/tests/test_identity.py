import re

import pytest

from integrations.git.identity import InvalidRepository, check_location, identify_repository, is_local, local_path


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


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("--upload-pack=touch${IFS}x;true${IFS}x@host:owner/repo", "starts with '-'"),
        (" -c core.sshCommand=x host:owner/repo", "starts with '-'"),
        ("ext::sh -c touch% /tmp/x% #/acme/api", "remote helper"),
        ("fd::3/acme/api", "remote helper"),
        ("ssh://-oProxyCommand=touch% x/acme/api", "host or user name starts with '-'"),
        ("ssh://-oProxyCommand=x@host/acme/api", "host or user name starts with '-'"),
        ("-oProxyCommand=x@host:acme/api", "starts with '-'"),
        ("me@-oProxyCommand=x:acme/api", "host or user name starts with '-'"),
        ("host:-u/acme/api", "the path starts with '-'"),
        ("https://example.com/acme/api\r\n", "control characters"),
        ("/srv/git/acme/api\x00", "control characters"),
        ("file:///srv/git/acme/api%0a--x", "control characters"),
        ("file://otherhost/srv/acme/api", "file:///<path on this server>"),
        ("file:///srv/acme/api?/../../etc", "without ? or #"),
        ("gopher://example.com/acme/api", "unsupported scheme"),
    ],
)
def test_it_refuses_what_git_would_read_as_an_option_or_a_command(location: str, reason: str) -> None:
    with pytest.raises(InvalidRepository, match=re.escape(reason)):
        check_location(location)
    with pytest.raises(InvalidRepository):
        identify_repository(location)


def test_an_scp_location_with_an_absolute_path_is_remote_as_git_reads_it() -> None:
    # git: a colon before the first slash is ssh, whatever follows
    assert identify_repository("git@example.com:/srv/acme/api.git").full_name == "example.com/acme/api"
    assert not is_local("git@example.com:/srv/acme/api.git")
    assert local_path("file:///srv/git/acme%20x/api") == "/srv/git/acme x/api"
