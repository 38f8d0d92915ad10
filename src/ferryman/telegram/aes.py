"""Which AES-IGE Telethon encrypts every MTProto byte with, said by ``doctor`` and at start.

Telethon picks at its import (``telethon/crypto/aes.py``): ``cryptg`` (native, a runtime
dependency of ferryman) if it imports, else the system's libssl through ctypes, else
pure-Python AES. Measured here (``python -m bench telegram-aes``): ~330 MiB/s, ~11 MiB/s
and ~0.5 MiB/s per core; a phone's Python may find no libssl, so without cryptg an
upload is bound by the cipher, not the network.
"""

from __future__ import annotations

from dataclasses import dataclass

CRYPTG = "cryptg"
LIBSSL = "libssl"
PYTHON = "python"


@dataclass(frozen=True, slots=True)
class AesInUse:
    """The backend's name, whether it is the slow one, and a line for a person."""

    name: str
    slow: bool
    words: str


_WORDS = {
    CRYPTG: "cryptg (native)",
    LIBSSL: "libssl through ctypes (~30 times slower than cryptg; install cryptg)",
    PYTHON: (
        "pure Python (~600 times slower than cryptg: uploads and downloads crawl;"
        " install cryptg, see `ferryman docs termux` on a phone)"
    ),
}


def aes_in_use() -> AesInUse:
    """The AES-IGE Telethon uses in this process (imports Telethon's crypto module)."""
    from telethon.crypto import aes, libssl  # lazy: Telethon costs start-up

    if aes.cryptg is not None:
        name = CRYPTG
    elif libssl.encrypt_ige and libssl.decrypt_ige:
        name = LIBSSL
    else:
        name = PYTHON
    return AesInUse(name, name == PYTHON, _WORDS[name])
