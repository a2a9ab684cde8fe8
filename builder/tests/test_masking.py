"""Masking secret values in output, whole and streamed in arbitrary chunks."""

import base64
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from builder.contracts import LOG_LINE_TRUNCATED, MAX_LOG_LINE_CHARS, truncate_log_text
from builder.output import MAX_LINE, LineAssembler
from builder.secrets import MASK, Masker, secret_forms

# no '*' (a mask next to a secret's own '*' could form a secret again) and no '\n' inside single-line values
_CHARS = st.characters(codec="utf-8", exclude_characters="*\n\r")
SECRETS = st.lists(st.text(_CHARS, min_size=4, max_size=24), min_size=1, max_size=4)
NOISE = st.text(st.characters(codec="utf-8", exclude_characters="*"), max_size=60)


@st.composite
def text_with_secrets(draw: st.DrawFn) -> tuple[list[str], str]:
    secrets = draw(SECRETS)
    pieces = draw(st.lists(st.one_of(NOISE, st.sampled_from(secrets)), max_size=12))
    return secrets, "".join(pieces)


@st.composite
def chunked(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    bounds = [0, *cuts, len(text)]
    return [text[start:end] for start, end in itertools.pairwise(bounds)]


@given(data=st.data(), case=text_with_secrets())
@settings(max_examples=300)
def test_it_masks_a_stream_split_anywhere_exactly_like_the_whole_text(
    data: st.DataObject, case: tuple[list[str], str]
) -> None:
    # given secrets and a text containing them, cut into arbitrary chunks (splitting secrets between chunks)
    secrets, text = case
    masker = Masker(secrets)
    chunks = data.draw(chunked(text))
    # when the chunks are masked as a stream
    stream = masker.stream()
    streamed = "".join(stream.feed(chunk) for chunk in chunks) + stream.flush()
    # then the result is the masking of the whole text, and no secret survives in it
    assert streamed == masker.mask(text)
    for secret in secrets:
        assert secret not in streamed


@given(case=text_with_secrets())
def test_it_leaves_text_without_secrets_unchanged(case: tuple[list[str], str]) -> None:
    secrets, _ = case
    text = "no secrets here, just words and numbers 12345"
    masker = Masker([secret for secret in secrets if secret not in text])
    assert masker.mask(text) == text


def test_it_masks_the_value_its_base64_form_and_each_line_of_multi_line_values() -> None:
    # given a multi-line secret and a plain one
    masker = Masker(["-----BEGIN KEY-----\nabcdefgh\nxy\n-----END KEY-----", "hunter22"])
    encoded = base64.b64encode(b"hunter22").decode()
    # when output contains them in several forms
    output = masker.mask(f"pw=hunter22 b64={encoded} key:-----BEGIN KEY-----|abcdefgh|xy|-----END KEY-----")
    # then every form of 4+ characters is masked and short lines are left alone
    assert output == f"pw={MASK} b64={MASK} key:{MASK}|{MASK}|xy|{MASK}"


def test_it_masks_the_lines_of_a_value_that_is_itself_base64() -> None:
    secret_file = "line-one\nline-two"
    masker = Masker([base64.b64encode(secret_file.encode()).decode()])
    assert masker.mask("a line-one b line-two") == f"a {MASK} b {MASK}"


def test_it_masks_the_parts_of_escaped_newline_values() -> None:
    # given a value with literal backslash-n escapes (a PEM key stored on one line)
    masker = Masker(["-----BEGIN-----\\nfirst-part\\nsecond-part"])
    # when a program prints it decoded, line by line
    # then each part is masked
    assert masker.mask("first-part\nsecond-part") == f"{MASK}\n{MASK}"


def test_it_does_not_mask_values_of_three_characters_or_fewer() -> None:
    assert secret_forms("abc") == set()
    assert Masker(["abc", "ab"]).mask("abc ab") == "abc ab"
    assert Masker(["abcd"]).mask("abcd") == MASK


def test_it_prefers_the_longest_secret_at_a_position() -> None:
    masker = Masker(["abcd", "abcdefgh"])
    assert masker.mask("xabcdefghx") == f"x{MASK}x"
    stream = masker.stream()
    assert stream.feed("xabcd") + stream.feed("efghx") + stream.flush() == f"x{MASK}x"


def test_it_releases_complete_lines_without_waiting_for_more_output() -> None:
    # given a streaming masker and a chunk that ends with a newline
    stream = Masker(["a-long-secret-value"]).stream()
    # when / then the whole line comes out at once (nothing is held back after a newline)
    assert stream.feed("hello world\n") == "hello world\n"
    # and an unfinished line holds back only what could start a secret
    assert stream.feed("progress a-long-sec") == "progress "
    assert stream.feed("ret-value done\n") == f"{MASK} done\n"


@given(data=st.data(), case=text_with_secrets())
@settings(max_examples=100)
def test_it_assembles_masked_lines_from_raw_byte_chunks(data: st.DataObject, case: tuple[list[str], str]) -> None:
    # given output bytes (UTF-8, possibly split inside a character or a secret)
    secrets, text = case
    raw = (text + "\nlast line without newline").encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    bounds = [0, *cuts, len(raw)]
    received: list[str] = []
    assembler = LineAssembler(Masker(secrets), lambda stream, lines: received.extend(lines))
    # when fed chunk by chunk and closed
    for start, end in itertools.pairwise(bounds):
        assembler.feed("stdout", raw[start:end])
    assembler.close()
    # then the lines are those of the masked whole text, a CRLF line end counting as a line end
    expected = Masker(secrets).mask(text + "\nlast line without newline").split("\n")
    assert received == [line.removesuffix("\r") for line in expected]


def test_a_crlf_line_end_is_a_line_end_and_a_lone_cr_stays_in_the_line() -> None:
    received: list[str] = []
    assembler = LineAssembler(Masker(["0000"]), lambda stream, lines: received.extend(lines))
    assembler.feed("stdout", b"windows\r\nprogress 10%\rprogress 0000\n\r\n")
    assembler.close()
    assert received == ["windows", f"progress 10%\rprogress {MASK}", ""]


def test_it_cuts_an_overlong_line_once_marked_and_drops_its_rest_to_bound_memory() -> None:
    # given an assembler keeping lines of at most 10 characters
    received: list[str] = []
    assembler = LineAssembler(Masker(), lambda stream, lines: received.extend(lines), max_line=10)
    # when a stage prints a long line in pieces (the first piece already too long), then a short one
    assembler.feed("stdout", b"x" * 25)
    assert received == ["x" * 10 + LOG_LINE_TRUNCATED]  # emitted at once: the log shows the stage is printing
    for _ in range(1000):
        assembler.feed("stdout", b"y" * 1000)
    assembler.feed("stdout", b"z\nnext\n" + b"w" * 11 + b"\r\n")
    assembler.close()
    # then the long line is one marked line, its rest up to the newline is gone, and the next lines are whole
    assert received == ["x" * 10 + LOG_LINE_TRUNCATED, "next", "w" * 10 + LOG_LINE_TRUNCATED]


def test_the_line_limit_is_the_contracts() -> None:
    assert MAX_LINE == MAX_LOG_LINE_CHARS == 64 * 1024
    assert truncate_log_text("a" * (MAX_LINE + 1)) == "a" * MAX_LINE + LOG_LINE_TRUNCATED
    assert truncate_log_text("a" * MAX_LINE + LOG_LINE_TRUNCATED) == "a" * MAX_LINE + LOG_LINE_TRUNCATED  # not twice
