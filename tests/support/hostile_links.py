"""Hostile text for the parsers' property tests and the schemathesis run: every scheme
ferryman knows, mixed with parts that broke parsers (brackets, ports out of range,
bidi and control characters, empty and over-long labels, percent escapes, IPv6 zones,
digits ``int()`` refuses)."""

from __future__ import annotations

import random

from hypothesis import strategies as st

SCHEMES = [
    "http://", "https://", "HTTP://", "dav://", "davs://", "webdav://", "torbox:",
    "torbox:torrent/", "torbox:usenet/", "torbox:webdl/", "tg:", "tg:c/", "tg://resolve?domain=",
    "tg://privatepost?channel=", "t.me/", "https://t.me/", "https://t.me/c/", "telegram.me/",
    "https://youtu.be/", "https://www.youtube.com/watch?v=", "media:", "media:mp3-192:",
    "media:best:https://", "media:720p+fresh:http://", "file:", "file://", "file:///",
    "library:", "telegram:", "telegram:@", "telegram:-100", "link:", "json://",
    "ferryman://", "ferrymans://", "tgram://", "ntfy://", "magnet:?xt=urn:btih:", "", "/",
    "./", "mem:", "//", "//[", "~/",
]  # fmt: skip
HOSTILE = [
    "[", "]", "[::1", "[::1]", "[fe80::1%25eth0]", "[fe80::1%eth0]", "[v1.x]", "[1.2.3.4]",
    ":", ":99999", ":-1", ":0", ":65535", ":abc", ":٣", "@", "user:pass@", "..", ".",
    "a..b", "a" * 64, ("a" * 63 + ".") * 5, "%", "%00", "%zz", "%2F", "%5B", "\u202e",
    "\u200d", "\u2028", "\x00", "\n", "\t", "\x1b", "\x7f", "\ud800", "é", "☃", "xn--",
    "xn--a", "xn--zz-", "/", "?", "#", "?token=x", "\\", " ", "host", "example.com",
    "youtu.be", "t.me", "c/", "1", "99999999999999999999999", "9" * 5000, "²", "/topic/",
    "me", ",", "<", ">", "://", "//", "127.0.0.1", "0x7f.1",
]  # fmt: skip
_ANY_CHAR = st.characters(exclude_categories=())  # surrogates and controls included
HOSTILE_TEXT = st.builds(
    lambda scheme, parts: scheme + "".join(parts),
    st.sampled_from(SCHEMES),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(_ANY_CHAR, max_size=6)), max_size=8),
)


def hostile_sample(key: int) -> str:
    """One hostile text chosen by ``key`` alone (no Hypothesis draw: schemathesis' hooks
    stay cheap, and the same key gives the same text in every run)."""
    rng = random.Random(key)
    parts = [rng.choice(HOSTILE) for _ in range(rng.randint(0, 6))]
    return rng.choice(SCHEMES) + "".join(parts)
