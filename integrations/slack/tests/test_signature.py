"""Slack's request signatures: the example of Slack's documentation ("Verifying requests from Slack") as a test
vector, and the official SDK's ``SignatureVerifier`` as an oracle over random bodies, secrets and clocks."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from integrations.slack.webhook import REPLAY_WINDOW_SECONDS, sign, signature_is_valid

# Slack's documented example: the app's signing secret, the request's timestamp and body, and the signature.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
    b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
    b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slacks_documented_example_signs_and_verifies() -> None:
    assert sign(DOC_BODY, timestamp=DOC_TIMESTAMP, secret=DOC_SECRET) == DOC_SIGNATURE
    at_the_time = int(DOC_TIMESTAMP) + 10
    assert signature_is_valid(
        DOC_BODY, timestamp=DOC_TIMESTAMP, signature=DOC_SIGNATURE, secret=DOC_SECRET, now=at_the_time
    )


def test_the_documented_example_is_refused_today_as_a_replay() -> None:
    assert not signature_is_valid(DOC_BODY, timestamp=DOC_TIMESTAMP, signature=DOC_SIGNATURE, secret=DOC_SECRET)


# Signing secrets are printable text (Slack shows them as hex; the SDK refuses a blank one).
secrets_ = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64)
# Slack's bodies are UTF-8 text (a form), and the SDK decodes them so.
bodies = st.text(max_size=1024).map(str.encode)


@settings(max_examples=200, deadline=None)
@given(secret=secrets_, body=bodies, skew=st.integers(min_value=-2 * REPLAY_WINDOW_SECONDS, max_value=2 * 300))
def test_the_sdks_signatures_are_ours_and_we_agree_on_what_is_valid(secret: str, body: bytes, skew: int) -> None:
    oracle = SignatureVerifier(secret)
    now = int(time.time())
    timestamp = str(now + skew)
    signature = oracle.generate_signature(timestamp=timestamp, body=body)

    assert sign(body, timestamp=timestamp, secret=secret) == signature
    ours = signature_is_valid(body, timestamp=timestamp, signature=signature, secret=secret, now=now)
    # The SDK reads its own clock: compare where a second's drift cannot change its answer.
    if abs(abs(skew) - REPLAY_WINDOW_SECONDS) > 2:
        assert ours == oracle.is_valid(body=body, timestamp=timestamp, signature=signature)


@settings(max_examples=200, deadline=None)
@given(secret=secrets_, other=secrets_, body=bodies, flip=st.integers(min_value=0, max_value=2047))
def test_another_secret_or_a_changed_byte_is_refused_by_both(secret: str, other: str, body: bytes, flip: int) -> None:
    oracle = SignatureVerifier(secret)
    timestamp = str(int(time.time()))
    signature = oracle.generate_signature(timestamp=timestamp, body=body)
    text = body.decode() or "x"
    index = flip % len(text)
    changed = (text[:index] + chr(ord(text[index]) ^ 0x01) + text[index + 1 :]).encode()
    forged = SignatureVerifier(other).generate_signature(timestamp=timestamp, body=body)

    for candidate_body, candidate_signature in ((changed, signature), (body, forged)):
        if (candidate_body, candidate_signature) == (body, signature):
            continue  # the other secret signs as this one (the same text)
        expected = oracle.is_valid(body=candidate_body, timestamp=timestamp, signature=candidate_signature)
        assert not expected
        assert not signature_is_valid(candidate_body, timestamp=timestamp, signature=candidate_signature, secret=secret)
