"""Download names (RFC 6266 / 5987, URL fallback, sanitising) and Retry-After parsing."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from ferryman.config import Retry
from ferryman.net.names import disposition_filename, pick_filename, safe_filename, url_filename
from ferryman.net.waits import backoff_seconds, retry_after_seconds


@pytest.mark.parametrize(
    ("header", "raw"),
    [
        ("attachment; filename=\"a.zip\"; filename*=UTF-8''na%C3%AFve.zip", "na\u00efve.zip"),
        ("attachment; filename*=UTF-8''na%C3%AFve.zip; filename=\"a.zip\"", "na\u00efve.zip"),
        ("attachment; FILENAME*=utf-8'en'%E2%82%AC%20rates.pdf", "\u20ac rates.pdf"),
        ("attachment; filename*=iso-8859-1''caf%E9.jpg", "caf\u00e9.jpg"),
        ('attachment; filename="semi;colon \\"q\\".mp4"', 'semi;colon "q".mp4'),
        ("attachment; filename=plain.tar.gz", "plain.tar.gz"),
        ("inline; filename*=koi8-r''%F0%D2.txt; filename=\"fallback.txt\"", "fallback.txt"),
        (
            'attachment; filename="m\u00c3\u00a4rz.zip"',
            "m\u00e4rz.zip",
        ),  # raw UTF-8 read as Latin-1
        ("attachment", None),
        (None, None),
    ],
)
def test_disposition_filename(header: str | None, raw: str | None) -> None:
    assert disposition_filename(header) == raw


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("..", None),
        ("a\x00b\x1fc.zip", "a_b_c.zip"),
        ("  .hidden. ", "hidden"),
        ('what?*<>|".mp4', "what______.mp4"),
        ("x" * 300 + ".mkv", "x" * 150 + ".mkv"),
    ],
)
def test_safe_filename(raw: str, safe: str | None) -> None:
    assert safe_filename(raw) == safe


def test_url_filename_and_fallbacks() -> None:
    assert url_filename("https://h/a/b/na%C3%AFve%20clip.mp4?x=1#f") == "na\u00efve clip.mp4"
    assert url_filename("https://h/dir/") is None
    assert pick_filename(None, "https://h/dl/%2e%2e%2fsecret") == "secret"
    assert pick_filename(None, "https://h/") == "download"
    assert pick_filename(None, "https://h/get", "video/mp4") == "get.mp4"
    assert pick_filename(None, "https://h/get", "application/octet-stream") == "get"
    assert pick_filename('attachment; filename="../x.zip"', "https://h/y.rar") == "x.zip"


def test_retry_after_as_seconds_or_a_date() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30)
    assert retry_after_seconds(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_backoff_grows_with_jitter_and_stops_at_the_cap() -> None:
    policy = Retry(base_seconds=1.0, max_seconds=10.0, jitter=0.25)  # type: ignore[call-arg]
    assert 0.75 <= backoff_seconds(1, policy) <= 1.25
    assert 3.0 <= backoff_seconds(3, policy) <= 5.0
    assert backoff_seconds(20, policy) <= 10.0


def test_a_refused_connection_is_said_in_words_and_ipv6_hosts_keep_their_brackets() -> None:
    import httpx

    from ferryman.net.http import shown_url, transport_error

    refused = transport_error(
        httpx.ConnectError("All connection attempts failed"), "http://u:pw@127.0.0.1:8799/a?t=1"
    )
    assert refused.code == "source.io"
    assert refused.message.startswith("could not connect to http://127.0.0.1:8799/a?…")
    assert "ConnectError" not in refused.message and "pw" not in refused.message
    assert shown_url("davs://[::1]:8443/photos/") == "davs://[::1]:8443/photos/"
