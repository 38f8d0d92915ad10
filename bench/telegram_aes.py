"""Telethon's AES-IGE backends, one after another in this process: MiB/s each way.

Telethon encrypts every MTProto byte it sends and decrypts every byte it receives with
AES-256-IGE, and picks its backend at import (``telethon/crypto/aes.py``): cryptg, else
the system's libssl through ctypes, else pure Python (pyaes). The fake Telegram the other
Telegram benchmarks use speaks MTProto without this encryption, so this row is what a
real upload or download pays per core on top. The baseline is pure Python (what a
phone's Python without cryptg and without a libssl ctypes can find gets); each backend is
checked to round-trip the same bytes, and cryptg against libssl's output.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from bench._common import Check, MiB, Result, Table, fmt_ratio, progress
from ferryman.telegram.aes import aes_in_use

Cipher = Callable[[bytes, bytes, bytes], bytes]
FAST_MIB = 8  # bytes through the native backends, per direction
SLOW_MIB = 0.5  # through pure Python (~2 s per MiB)
CRYPTG_TARGET = 100.0  # cryptg / pure Python, at least


def _pure_python() -> tuple[Cipher, Cipher]:
    """Telethon's own pure-Python path: its AES class with cryptg and libssl hidden."""
    from telethon.crypto import aes

    def hidden(call: Callable[..., bytes]) -> Cipher:
        def run(data: bytes, key: bytes, iv: bytes) -> bytes:
            saved = aes.cryptg, aes.libssl.encrypt_ige, aes.libssl.decrypt_ige
            aes.cryptg, aes.libssl.encrypt_ige, aes.libssl.decrypt_ige = None, None, None
            try:
                return call(data, key, iv)
            finally:
                aes.cryptg, aes.libssl.encrypt_ige, aes.libssl.decrypt_ige = saved

        return run

    return hidden(aes.AES.encrypt_ige), hidden(aes.AES.decrypt_ige)


def backends() -> dict[str, tuple[Cipher, Cipher] | None]:
    """Each backend's (encrypt, decrypt), or None where this machine lacks it."""
    from telethon.crypto import libssl

    found: dict[str, tuple[Cipher, Cipher] | None] = {"python (baseline)": _pure_python()}
    ssl = libssl.encrypt_ige, libssl.decrypt_ige
    found["libssl (ctypes)"] = (ssl[0], ssl[1]) if ssl[0] and ssl[1] else None
    try:
        import cryptg
    except ImportError:
        found["cryptg"] = None
    else:
        found["cryptg"] = (cryptg.encrypt_ige, cryptg.decrypt_ige)
    return found


def _rate(cipher: Cipher, data: bytes, key: bytes, iv: bytes) -> tuple[float, bytes]:
    started = time.perf_counter()
    out = cipher(data, key, iv)
    return len(data) / MiB / (time.perf_counter() - started), out


def run(args: argparse.Namespace) -> Result:
    result = Result("telegram-aes", "Telethon's AES-IGE backends (MTProto's cipher), per core")
    key, iv = os.urandom(32), os.urandom(32)
    fast = os.urandom(max(1, round(FAST_MIB * args.scale)) * MiB)
    slow = fast[: max(16, int(SLOW_MIB * args.scale * MiB)) // 16 * 16]
    table = Table(["backend", "MiB", "encrypt MiB/s", "decrypt MiB/s", "vs python"])
    base: float | None = None
    sealed: dict[str, bytes] = {}
    in_use = aes_in_use().name
    for name, pair in backends().items():
        if pair is None:
            table.add(name, "-", "not here", "not here", "-")
            continue
        progress(f"telegram-aes: {name}")
        data = slow if name.startswith("python") else fast
        enc, sealed_bytes = _rate(pair[0], data, key, iv)
        dec, opened = _rate(pair[1], sealed_bytes, key, iv)
        result.checks.append(
            Check(f"{name}: decrypt(encrypt(x)) == x", "", "equal", opened == data)
        )
        sealed[name] = sealed_bytes[: len(slow)]
        both = 2 / (1 / enc + 1 / dec)
        base = base or both
        table.add(name, f"{len(data) / MiB:g}", f"{enc:.2f}", f"{dec:.2f}", fmt_ratio(both / base))
        result.data[name] = {"encrypt_mib_s": enc, "decrypt_mib_s": dec}
    same = len(set(sealed.values())) <= 1
    said = "same" if same else "differs"
    result.checks.append(Check("every backend: the same ciphertext", said, "same", same))
    cryptg = result.data.get("cryptg")
    python = result.data.get("python (baseline)")
    if cryptg and python:
        ratio = cryptg["encrypt_mib_s"] / python["encrypt_mib_s"]
        result.checks.append(
            Check("cryptg / python, encrypt", fmt_ratio(ratio), f">= {CRYPTG_TARGET:g}x",
                  ratio >= CRYPTG_TARGET)
        )  # fmt: skip
    result.tables.append(("", table))
    result.notes.append(f"Telethon in this process uses: {in_use} (ferryman doctor says which)")
    result.notes.append("vs python: harmonic mean of encrypt and decrypt, over pure Python's")
    return result
