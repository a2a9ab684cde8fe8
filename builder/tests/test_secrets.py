"""Secret envelopes: Estafette's own vectors, our round-trips, and the attacks our v2 format refuses."""

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.secrets import (
    RESTRICTED_MESSAGE,
    SecretError,
    SecretRestrictedError,
    collect_secrets,
    decrypt,
    decrypt_envelopes,
    decrypt_envelopes_leniently,
    encrypt,
    find_envelopes,
    generate_key,
    is_allowed,
    open_envelope,
    parse_key,
    reencrypt_envelopes,
    restricted_envelopes,
)

# Envelopes made by Estafette's own secret library (a copy of ../shared/secret-vectors.json, so a clean clone has it)
VECTORS = json.loads((Path(__file__).parent / "data" / "secret-vectors.json").read_text())["vectors"]
KEY = parse_key("SazbwMf3NZxVVbBqQHebPcXCqrVn3DDp")


def _cases() -> list[tuple[dict, str, str]]:
    return [(vector, pipeline, expected) for vector in VECTORS for pipeline, expected in vector["expected"].items()]


@pytest.mark.parametrize(
    ("vector", "pipeline", "expected"),
    _cases(),
    ids=[f"{v['pipelineAllowList'] or 'global'}-{p}" for v, p, _ in _cases()],
)
def test_it_decrypts_every_estafette_vector_as_expected(vector: dict, pipeline: str, expected: str) -> None:
    # given a key in the form the vector uses
    key = parse_key(vector["key"])
    assert len(key) == 32
    # when the envelope is decrypted for the pipeline
    try:
        result = decrypt(vector["envelope"], key=key, pipeline=pipeline)
    except SecretRestrictedError as error:
        result = "ERROR"
        assert str(error) == RESTRICTED_MESSAGE
    # then it matches what this project must return (refusing Estafette's owner-migration fallback)
    assert result == expected


def test_it_refuses_the_owner_migration_fallback_estafette_allows() -> None:
    # given vectors where Estafette lets another owner's same-named repository decrypt
    fallback_cases = [
        (vector, pipeline)
        for vector in VECTORS
        for pipeline, result in vector["estafetteResult"].items()
        if not result.startswith("ERROR") and vector["expected"][pipeline] == "ERROR"
    ]
    assert fallback_cases, "the vectors are expected to contain the fallback case"
    for vector, pipeline in fallback_cases:
        # when / then
        with pytest.raises(SecretRestrictedError):
            decrypt(vector["envelope"], key=parse_key(vector["key"]), pipeline=pipeline)


def test_it_opens_vectors_to_their_plaintext_and_allow_list() -> None:
    for vector in VECTORS:
        plaintext, allow_list = open_envelope(vector["envelope"], key=parse_key(vector["key"]))
        assert plaintext == vector["plaintext"]
        assert allow_list == ("" if vector["pipelineAllowList"] == "" else allow_list)
        if vector["pipelineAllowList"] not in ("", ".*"):
            assert allow_list == vector["pipelineAllowList"]


@given(plaintext=st.text(max_size=200), allow=st.sampled_from(["", ".*", "github.com/acme/api", "github.com/acme/.+"]))
def test_it_round_trips_its_own_envelopes(plaintext: str, allow: str) -> None:
    # given an envelope we made
    envelope = encrypt(plaintext, key=KEY, allow_list=allow)
    # when it is decrypted for a pipeline the allow-list admits
    result = decrypt(envelope, key=KEY, pipeline="github.com/acme/api")
    # then the plaintext comes back and the envelope matches Estafette's envelope regex
    assert result == plaintext
    assert find_envelopes(f"x {envelope} y") == [envelope]


def test_it_restricts_its_own_envelopes_to_the_allow_list() -> None:
    envelope = encrypt("s3cr3t", key=KEY, allow_list="github.com/acme/api")
    assert decrypt(envelope, key=KEY, pipeline="github.com/acme/api") == "s3cr3t"
    for other in ("github.com/other/api", "github.com/acme/api2", "bitbucket.org/acme/api"):
        with pytest.raises(SecretRestrictedError):
            decrypt(envelope, key=KEY, pipeline=other)


def _parts(envelope: str) -> list[str]:
    return envelope.removeprefix("estafette.secret(").removesuffix(")").split(".")


def test_it_refuses_an_envelope_whose_allow_list_was_stripped() -> None:
    # given a restricted v2 envelope with its allow-list parts removed (a legacy envelope would become global)
    parts = _parts(encrypt("s3cr3t", key=KEY, allow_list="github.com/acme/api"))
    stripped = f"estafette.secret({parts[0]}.{parts[1]})"
    # when / then
    with pytest.raises(SecretError):
        decrypt(stripped, key=KEY, pipeline="github.com/other/api")
    with pytest.raises(SecretError):
        decrypt(f"estafette.secret({parts[0]}.{parts[1]}.{parts[3]})", key=KEY, pipeline="github.com/other/api")


def test_it_refuses_an_envelope_whose_allow_list_was_swapped() -> None:
    # given the allow-list parts of an envelope restricted to the attacker's pipeline
    victim = _parts(encrypt("s3cr3t", key=KEY, allow_list="github.com/acme/api"))
    attacker = _parts(encrypt("whatever", key=KEY, allow_list="github.com/evil/repo"))
    swapped = f"estafette.secret({victim[0]}.{victim[1]}.{attacker[2]}.{attacker[3]})"
    # when / then
    with pytest.raises(SecretError):
        decrypt(swapped, key=KEY, pipeline="github.com/evil/repo")


def test_it_does_not_reuse_the_nonce_so_a_known_allow_list_reveals_nothing() -> None:
    # given an envelope restricted to a guessable allow-list (the pipeline's own name)
    allow = "github.com/acme/api"
    parts = _parts(encrypt("s3cr3t-value", key=KEY, allow_list=allow))
    value_ct = base64.urlsafe_b64decode(parts[1])[:-16]
    allow_ct = base64.urlsafe_b64decode(parts[3])[:-16]
    # when the ciphertexts are XOR-ed with the known allow-list (the attack that works on legacy envelopes)
    guess = bytes(a ^ b ^ c for a, b, c in zip(value_ct, allow_ct, allow.encode(), strict=False))
    # then the plaintext does not come out
    assert guess != b"s3cr3t-value"[: len(guess)]


def test_it_shows_that_legacy_envelopes_leak_to_anyone_guessing_the_allow_list() -> None:
    # given Estafette's own restricted envelope (why we never produce that format)
    vector = next(v for v in VECTORS if v["pipelineAllowList"] == "github.com/acme/api")
    parts = _parts(vector["envelope"])
    value_ct = base64.urlsafe_b64decode(parts[1])[:-16]
    allow_ct = base64.urlsafe_b64decode(parts[2])[:-16]
    # when XOR-ed with the guessed allow-list, no key needed
    recovered = bytes(a ^ b ^ c for a, b, c in zip(value_ct, allow_ct, b"github.com/acme/api", strict=False))
    # then the plaintext's prefix comes out
    assert vector["plaintext"].encode().startswith(recovered)


def test_it_refuses_a_wrong_key_without_revealing_anything() -> None:
    envelope = encrypt("top-secret-value", key=KEY)
    with pytest.raises(SecretError) as raised:
        decrypt(envelope, key=parse_key(generate_key()), pipeline="github.com/acme/api")
    assert "top-secret-value" not in str(raised.value)
    assert "wrong key" in str(raised.value)


@pytest.mark.parametrize("broken", ["estafette.secret(abc)", "estafette.secret(a.b.c.d.e)", "estafette.secret(!!.??)"])
def test_it_reports_malformed_envelopes(broken: str) -> None:
    with pytest.raises(SecretError):
        decrypt(broken, key=KEY, pipeline="github.com/acme/api")


def test_it_parses_raw_and_base64_keys_and_rejects_others() -> None:
    raw = "SazbwMf3NZxVVbBqQHebPcXCqrVn3DDp"
    assert parse_key(raw) == raw.encode()
    assert parse_key(raw + "\n") == raw.encode()
    generated = generate_key()
    assert len(parse_key(generated)) == 32
    assert parse_key(generated) == base64.b64decode(generated)
    with pytest.raises(SecretError, match="32 characters"):
        parse_key("too-short")


def test_it_reencrypts_every_envelope_with_a_new_key_keeping_restrictions() -> None:
    # given a configuration text holding an Estafette envelope and a global one
    restricted = next(v for v in VECTORS if v["pipelineAllowList"] == "github.com/acme/api" and not v["keyIsBase64"])
    text = json.dumps({"a": restricted["envelope"], "b": encrypt("global-value", key=KEY), "c": "plain"})
    new_key = parse_key(generate_key())
    # when re-encrypted for a job
    rewritten = reencrypt_envelopes(text, key=KEY, new_key=new_key)
    # then only the new key opens them, and the restriction still holds
    data = json.loads(rewritten)
    assert data["c"] == "plain"
    assert decrypt(data["a"], key=new_key, pipeline="github.com/acme/api") == restricted["plaintext"]
    with pytest.raises(SecretRestrictedError):
        decrypt(data["a"], key=new_key, pipeline="github.com/other/api")
    assert decrypt(data["b"], key=new_key, pipeline="github.com/other/api") == "global-value"
    with pytest.raises(SecretError):
        decrypt(data["a"], key=KEY, pipeline="github.com/acme/api")


def test_it_lists_the_envelopes_a_pipeline_may_not_use() -> None:
    allowed = encrypt("mine", key=KEY, allow_list="github.com/acme/api")
    foreign = encrypt("theirs", key=KEY, allow_list="github.com/other/.*")
    text = f"env: {{A: {allowed}, B: {foreign}}}"
    assert restricted_envelopes(text, key=KEY, pipeline="github.com/acme/api") == [foreign]


def test_it_decrypts_all_envelopes_in_a_text_strictly_or_leniently() -> None:
    ok = encrypt("value-one", key=KEY)
    foreign = encrypt("value-two", key=KEY, allow_list="github.com/other/api")
    assert decrypt_envelopes(f"a={ok}", key=KEY, pipeline="github.com/acme/api") == "a=value-one"
    with pytest.raises(SecretRestrictedError):
        decrypt_envelopes(f"{ok} {foreign}", key=KEY, pipeline="github.com/acme/api")
    text, failures = decrypt_envelopes_leniently(f"{ok} {foreign}", key=KEY, pipeline="github.com/acme/api")
    assert (text, failures) == (f"value-one {foreign}", 1)
    assert collect_secrets(f"{ok} {ok}", key=KEY, pipeline="github.com/acme/api") == ["value-one"]


def test_it_matches_allow_lists_against_the_whole_pipeline_name() -> None:
    assert is_allowed("", "anything")
    assert is_allowed(".*", "anything")
    assert is_allowed("github.com/acme/(api|web)", "github.com/acme/web")
    assert not is_allowed("github.com/acme/api", "github.com/acme/api-fork")
    assert not is_allowed("acme", "github.com/acme/api")
    with pytest.raises(SecretError, match="regular expression"):
        is_allowed("github.com/(", "github.com/acme/api")
