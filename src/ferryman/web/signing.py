"""Download links that carry their own permission: HMAC-signed, with an expiry.

A token is ``<payload>.<signature>``, both URL-safe base64: the payload names the job,
the file (a path inside the job's results, or ``*`` for the whole job as a zip) and the
expiry; the signature is HMAC-SHA256 under a secret kept in the data dir (made on first
use, mode 0600). No store lookup is needed to serve a link, and nothing else secret is
ever put in a URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ferryman.errors import FerrymanError

WHOLE_JOB = "*"


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token allows: one file of one job (or the whole job) until then."""

    job_id: int
    path: str
    expires: float
    bind: str = ""  # whose link (``web/accounts/link_grants``); "": no person's


def person_bind(account: int | None) -> str:
    """What a link of a job of ``account`` is bound to (``u:ID``; "" for no person's):
    checked where it is served (``web/accounts/link_grants``)."""
    return "" if account is None else f"u:{account}"


def load_secret(data_dir: Path) -> bytes:
    """The signing secret, made once per data dir (several web processes on one data
    dir sign alike; a deleted secret invalidates every link given out)."""
    path = data_dir / "web.secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(fresh)
    return bytes.fromhex(fresh)


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, job_id: int, path: str, expires: float, bind: str = "") -> str:
        fields: list[object] = [job_id, path, int(expires)] + ([bind] if bind else [])
        payload = json.dumps(fields, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def check(self, token: str, now: float) -> Grant:
        """The grant of a valid token. Raises ``link.tampered`` for a token this server
        did not sign, ``link.expired`` for one past its time."""
        head, _, tail = token.partition(".")
        try:
            payload = _unb64(head)
            given = _unb64(tail)
        except ValueError:
            raise FerrymanError("link.tampered", "this download link is damaged") from None
        if not hmac.compare_digest(given, self._mac(payload)):
            raise FerrymanError("link.tampered", "this download link was not made here")
        try:
            job_id, path, expires, *bind = json.loads(payload)
            grant = Grant(int(job_id), str(path), float(expires), str(bind[0]) if bind else "")
        except (ValueError, TypeError):
            raise FerrymanError("link.tampered", "this download link is damaged") from None
        if now > grant.expires:
            raise FerrymanError("link.expired", f"this download link expired (job {job_id})")
        return grant

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Strict: a token has one spelling (base64's spare bits in the last character
    would otherwise let several spellings decode alike)."""
    if not text:
        raise ValueError("empty")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical")
    return data
