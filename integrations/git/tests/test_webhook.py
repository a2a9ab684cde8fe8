import json

import pytest

from integrations.git.webhook import InvalidPush, parse_push, sign, signature_is_valid

SECRET = "webhook-secret"


def body(**fields: object) -> bytes:
    payload = {"event": "push", "repository": "https://github.com/acme/api.git", "branch": "main", "revision": "a" * 40}
    payload.update(fields)
    return json.dumps(payload).encode()


def test_it_accepts_a_correct_signature_only() -> None:
    raw = body()
    assert signature_is_valid(raw, sign(raw, SECRET), SECRET)
    assert not signature_is_valid(raw, sign(raw, "other"), SECRET)
    assert not signature_is_valid(raw + b" ", sign(raw, SECRET), SECRET)
    assert not signature_is_valid(raw, None, SECRET)
    assert not signature_is_valid(raw, sign(raw, ""), "")


def test_it_parses_a_push() -> None:
    push = parse_push(body(branch="refs/heads/feature/x"))
    assert (push.identity.full_name, push.branch, push.revision) == ("github.com/acme/api", "feature/x", "a" * 40)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "the body is not JSON"),
        (b"[]", "JSON object"),
        (body(event="tag"), "event must be 'push'"),
        (body(branch=""), "branch is required"),
        (body(branch="bad..name"), "not a valid git branch name"),
        (body(revision="xyz"), "hexadecimal commit id"),
        (body(revision=12), "revision must be a string"),
        (body(repository="https://github.com/lonely"), "repository: "),
        (body(branch="--output=/tmp/x"), "not a valid git branch name"),
        (body(branch="refs/heads/-x"), "not a valid git branch name"),
        (body(branch="a/.hidden"), "not a valid git branch name"),
        (body(branch="x" * 257), "not a valid git branch name"),
        (body(branch="main\n"), r"branch 'main\\n' holds control characters"),
        (body(branch="ma\x7fin"), "holds control characters"),
        (body(revision="abcdef0\n"), r"revision 'abcdef0\\n' holds control characters"),
        (body(revision="--output=/tmp/x"), "hexadecimal commit id"),
        (body(repository="--upload-pack=touch${IFS}x;true${IFS}x@host:owner/repo"), "starts with '-'"),
        (body(repository="ext::sh -c touch% /tmp/x% #/acme/api"), "remote helper"),
    ],
)
def test_it_says_what_is_wrong_with_a_bad_push(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidPush, match=reason):
        parse_push(raw)
