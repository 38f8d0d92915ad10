"""Passwords hashed with argon2id (argon2-cffi, the reference implementation's binding:
memory-hard, so a stolen database is slow to guess at); each hash and check runs on a
thread (tens of milliseconds of CPU and 64 MiB: never on the event loop)."""

from __future__ import annotations

import asyncio
import functools
import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id, RFC 9106's second recommended parameters
MIN_LENGTH = 8


@functools.cache
def _dummy() -> str:
    """A hash to check against when the name is unknown: the answer takes as long either
    way. Made at the first such check, not at import (a hash is ~0.2 CPU-s and 64 MiB,
    which every ``ferryman web`` start and CLI command importing this paid)."""
    return _HASHER.hash("ferryman: no such account")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def hashed(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def checked(stored: str | None, password: str) -> bool:
    return await asyncio.to_thread(check, stored, password)


def stamp(stored: str | None) -> str:
    """A short fingerprint of the hash a session was made under: a new password (a
    reset) changes it, and the sessions made before end."""
    return hashlib.sha256((stored or "").encode()).hexdigest()[:12]
