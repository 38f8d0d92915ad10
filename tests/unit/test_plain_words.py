"""A job's error on the page: a library's own text never on the card, ours kept as is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.error_codes import SPECS
from ferryman.web.plain_words import page_message, reads_as_library_text

RAW = [
    ("source.host_unknown", "youtu.be: HTTPSConnection(host='youtu.be', port=443): Failed to"
     " resolve 'youtu.be' ([Errno -2] Name or service not known)"),
    ("source.network", "[generic] Unable to download webpage: <urlopen error [Errno 111]"
     " Connection refused>"),
    ("source.tls_refused", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed:"
     " self-signed certificate (_ssl.c:1006)"),
    ("source.changed", "ERROR: something nobody foresaw"),
    ("content.unavailable", "[youtube] dQw4w9WgXcQ: Video unavailable"),
    ("archive.unreadable", "<ferryman.archive.Thing object at 0x7f00aa> broke"),
]  # fmt: skip

OURS = [
    ("archive.truncated", "broken.zip: broken after 3 entries: Truncated input file"),
    ("source.not_found", "/home/me/holiday.zip does not exist"),
    ("job.partial", "1 file of 3 not delivered (1 skipped: not a photo or video)"),
    ("link.no_media", "https://example.com/page has no video or audio"),
]


@pytest.mark.parametrize(("code", "message"), RAW)
def test_a_librarys_text_becomes_a_sentence_and_is_kept_for_details(
    code: str, message: str
) -> None:
    said, detail = page_message(code, message)
    assert detail == message
    assert said != message and said.endswith(".") and not reads_as_library_text(said)
    for mark in ("Errno", "host=", "_ssl.c", "ERROR:", "0x", "[youtube]"):
        assert mark not in said


@pytest.mark.parametrize(("code", "message"), OURS)
def test_our_own_sentences_stay_as_they_are(code: str, message: str) -> None:
    assert page_message(code, message) == (message, None)


def test_every_registered_code_has_words_for_a_raw_message() -> None:
    for spec in SPECS:
        said, _ = page_message(spec.code, "x: [Errno 5] Input/output error")
        assert said and not reads_as_library_text(said), spec.code


@settings(max_examples=200, derandomize=True, deadline=None)
@given(code=st.text(max_size=40), message=st.text(max_size=300))
def test_page_message_is_total(code: str, message: str) -> None:
    said, detail = page_message(code, message)
    assert isinstance(said, str) and (said or not message)
    assert detail is None or detail == message


def test_our_sentence_quoting_a_librarys_text_further_on_stays() -> None:
    message = (
        "1 file of 3 not delivered, kept in quarantine (media.decode_failed: cannot identify"
        " image file <_io.BytesIO object at 0x7f3a>); 2 delivered"
    )
    assert page_message("job.partly_delivered", message) == (message, None)
