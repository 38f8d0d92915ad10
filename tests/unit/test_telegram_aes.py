"""Which AES-IGE Telethon uses, as ``doctor`` and ``serve`` tell it: cryptg when it
imports (a dependency), libssl through ctypes without it, pure Python (warned) last."""

from __future__ import annotations

import os

import cryptg
import pytest
from telethon.crypto import aes, libssl

from ferryman.telegram.aes import aes_in_use


def test_cryptg_is_what_telethon_uses_here() -> None:
    found = aes_in_use()
    assert (found.name, found.slow) == ("cryptg", False)


def test_without_cryptg_libssl_then_pure_python_and_that_one_is_slow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, iv, data = os.urandom(32), os.urandom(32), os.urandom(4096)
    monkeypatch.setattr(aes, "cryptg", None)
    assert aes_in_use().name == "libssl" and not aes_in_use().slow
    monkeypatch.setattr(libssl, "encrypt_ige", None)
    monkeypatch.setattr(libssl, "decrypt_ige", None)
    found = aes_in_use()
    assert (found.name, found.slow) == ("python", True)
    assert "install cryptg" in found.words
    # and Telethon does run its pure-Python AES then: the same bytes as cryptg's
    assert aes.AES.encrypt_ige(data, key, iv) == cryptg.encrypt_ige(data, key, iv)
