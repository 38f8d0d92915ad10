"""A CDN's bytes (outside input): decrypted with the redirect's key and IV at any
block's offset, and served only when every 128 KiB part matches the master DC's hash;
any byte changed, a hash missing or a part cut short fails at that part's offset."""

from __future__ import annotations

import hashlib

from Cryptodome.Cipher import AES
from Cryptodome.Util import Counter
from hypothesis import given, settings
from hypothesis import strategies as st
from telethon.tl import types

from ferryman.telegram.cdn import PART, CdnFile

FILE = bytes(range(256)) * (5 * PART // 256) + b"the short last part"


def _cdn(key: bytes, iv: bytes) -> CdnFile:
    hashes = [
        types.FileHash(at, len(FILE[at : at + PART]), hashlib.sha256(FILE[at : at + PART]).digest())
        for at in range(0, len(FILE), PART)
    ]
    redirect = types.upload.FileCdnRedirect(203, b"token", key, iv, hashes[:2])
    cdn = CdnFile.of(redirect)
    assert cdn.missing(0, len(FILE)) == 2 * PART  # the redirect told the first two
    assert cdn.learn(hashes) == len(hashes) - 2
    return cdn


def _sent(key: bytes, iv: bytes, offset: int, plain: bytes) -> bytes:
    """What the CDN sends: an independent AES-256-CTR, its counter at ``offset``."""
    start = int.from_bytes(iv[:12] + (offset // 16).to_bytes(4, "big"), "big")
    return AES.new(key, AES.MODE_CTR, counter=Counter.new(128, initial_value=start)).encrypt(plain)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    key=st.binary(min_size=32, max_size=32),
    iv=st.binary(min_size=16, max_size=16),
    first=st.integers(0, 5),
    parts=st.integers(1, 6),
    flip=st.one_of(st.none(), st.integers(0, 6 * PART)),
)
def test_parts_are_served_only_when_each_matches_its_hash(
    key: bytes, iv: bytes, first: int, parts: int, flip: int | None
) -> None:
    cdn = _cdn(key, iv)
    offset = first * PART
    plain = FILE[offset : offset + parts * PART]
    sent = bytearray(_sent(key, iv, offset, plain))
    if flip is not None and flip < len(sent):
        sent[flip] ^= 0x5A
    opened, bad = cdn.open(offset, bytes(sent))
    if flip is None or flip >= len(sent):
        assert bad is None and opened == plain
    else:
        assert bad == offset + flip // PART * PART and opened != plain


def test_a_part_without_its_hash_or_cut_short_fails() -> None:
    key, iv = b"k" * 32, b"i" * 16
    cdn = _cdn(key, iv)
    del cdn.hashes[3 * PART]
    block = FILE[2 * PART : 5 * PART]
    assert cdn.open(2 * PART, _sent(key, iv, 2 * PART, block))[1] == 3 * PART
    short = FILE[0 : PART + 100]  # the second part cut short
    assert cdn.open(0, _sent(key, iv, 0, short))[1] == PART
    odd = FILE[1024 : 1024 + PART]  # not at a part's start: nothing to check it with
    assert cdn.open(1024, _sent(key, iv, 1024, odd))[1] == 1024
