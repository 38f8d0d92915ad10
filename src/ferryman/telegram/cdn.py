"""A file Telegram sent to one of its CDN data centres (core.telegram.org/cdn).

``upload.getFile`` may answer ``upload.fileCdnRedirect``: the file's bytes are then asked
from the CDN DC with the redirect's token (``upload.getCdnFile``) and come encrypted with
AES-256-CTR (its key, and its IV with the last 4 bytes the offset / 16, big-endian).
The CDN is not trusted: every 128 KiB part is checked against the SHA-256 the master DC
gave (in the redirect, ``upload.reuploadCdnFile`` and ``upload.getCdnFileHashes``). A
part with no hash known, or whose hash does not match, is not served: ``telegram/dcs``
asks the master DC for it instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from Cryptodome.Cipher import AES

PART = 128 * 1024  # each hash covers a part this big (the last one: what is left)


@dataclass(slots=True)
class CdnFile:
    """The redirect's token, key and IV, and the parts' hashes learnt so far."""

    dc_id: int
    token: bytes
    key: bytes = field(repr=False)
    iv: bytes = field(repr=False)
    hashes: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # offset -> limit, hash

    @classmethod
    def of(cls, redirect: Any) -> CdnFile:
        """From an ``upload.fileCdnRedirect``."""
        cdn = cls(
            int(redirect.dc_id),
            bytes(redirect.file_token),
            bytes(redirect.encryption_key),
            bytes(redirect.encryption_iv),
        )
        cdn.learn(redirect.file_hashes)
        return cdn

    def learn(self, hashes: Iterable[Any]) -> int:
        """Keep ``FileHash`` entries; how many were new."""
        new = 0
        for h in hashes:
            new += int(h.offset) not in self.hashes
            self.hashes[int(h.offset)] = (int(h.limit), bytes(h.hash))
        return new

    def missing(self, offset: int, length: int) -> int | None:
        """The first part of ``offset``..``offset + length`` whose hash is not known."""
        for at in range(offset // PART * PART, offset + length, PART):
            if at not in self.hashes:
                return at
        return None

    def open(self, offset: int, data: bytes) -> tuple[bytes, int | None]:
        """``data`` (sent by the CDN for ``offset``) decrypted, and the offset of its first
        part that fails its check (None: every part matches its hash). A part not wholly
        in ``data``, or with no hash known, fails. CPU-bound: run it in a thread."""
        counter = self.iv[:12] + (offset // 16).to_bytes(4, "big")
        plain = AES.new(self.key, AES.MODE_CTR, nonce=b"", initial_value=counter).decrypt(data)
        at = offset
        while at < offset + len(plain):
            known = self.hashes.get(at)
            if known is None:
                return plain, at
            limit, digest = known
            part = plain[at - offset : at - offset + limit]
            if len(part) != limit or hashlib.sha256(part).digest() != digest:
                return plain, at
            at += limit
        return plain, None
