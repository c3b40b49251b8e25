from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from discobot.redaction import MASK, SecretMasker

CANARY = "sk-canary-0123456789abcdef"


def test_a_secret_is_masked_wherever_it_appears():
    masker = SecretMasker([CANARY])

    assert masker.mask(f"key={CANARY}; again {CANARY}.") == f"key={MASK}; again {MASK}."


@pytest.mark.parametrize("before", [b"", b"x", b"xy", b"xyz"])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_its_base64_form_is_masked_at_any_alignment(before, encode):
    encoded = encode(before + f"export KEY={CANARY}\n".encode()).decode()

    masked = SecretMasker([CANARY]).mask(f"echo {encoded} | base64 -d")

    assert MASK in masked
    # What is left of the encoding no longer decodes to the secret.
    left = masked.removeprefix("echo ").removesuffix(" | base64 -d").replace(MASK, "")
    assert CANARY not in base64.b64decode(left + "===", altchars=b"-_")[:200].decode(
        errors="ignore"
    )


def test_its_url_encoded_form_is_masked():
    secret = "p@ss/word+with spaces"

    assert SecretMasker([secret]).mask(f"url?token={quote(secret, safe='')}") == f"url?token={MASK}"


def test_a_secret_split_across_chunks_is_masked_at_every_split():
    text = f"the key is {CANARY} and that is all"
    masker = SecretMasker([CANARY, "another-secret-value"])
    for first in range(len(text)):
        for second in range(first, len(text)):
            stream = masker.stream()
            pieces = [text[:first], text[first:second], text[second:]]
            sent = "".join(stream.feed(piece) for piece in pieces) + stream.end()
            assert sent == f"the key is {MASK} and that is all"


def test_a_stream_sends_text_that_cannot_be_a_secret_at_once():
    stream = SecretMasker([CANARY]).stream()

    sent = stream.feed("x" * 100 + "sk-can")

    assert sent == "x" * 100  # only the end that may begin the secret waits
    assert stream.feed("ary-0123456789abcdef!") + stream.end() == f"{MASK}!"


def test_short_values_and_no_secrets_leave_text_alone():
    assert SecretMasker(["true", ""]).mask("true story") == "true story"
    nothing = SecretMasker([])
    assert not nothing
    assert nothing.stream().feed("anything") == "anything"
