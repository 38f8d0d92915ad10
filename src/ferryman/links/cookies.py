"""A cookies.txt given through the page, for sites that show their media only to a
logged-in browser (as MeTube takes one).

The file is a Netscape cookies file (what "Get cookies.txt" browser add-ons export):
one cookie a line, seven tab-separated fields ``domain, subdomains (TRUE/FALSE), path,
secure (TRUE/FALSE), expires (Unix seconds, 0: a session cookie), name, value``; lines
starting with ``#`` are comments except the ``#HttpOnly_`` prefix of a domain. ``parse``
is total: any text is either cookies or ``cookies.invalid`` naming the line.

What was given is kept, rewritten from what was parsed, as ``<data_dir>/cookies/
cookies.txt`` (owner-only): the link converter and the watches' listings use it for
the next link jobs, in place of ``links.cookies_file``; it is never served back (the
API says how many cookies for which sites), and removing it is one request. A person
with an account (not an administrator) keeps their own, ``<data_dir>/cookies/people/
ID/cookies.txt``, and their link jobs use that one or none: never the server's, never
another's.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError
from ferryman.fsutil import PrivateFile

if TYPE_CHECKING:
    from ferryman.config import Settings

MAX_BYTES = 256 * 1024  # a site's cookies are a few kB (the web caps a body there too)
HEADER = "# Netscape HTTP Cookie File"
_HTTP_ONLY = "#HttpOnly_"
_FLAGS = {"TRUE": True, "FALSE": False}


@dataclass(frozen=True, slots=True)
class Cookie:
    domain: str
    subdomains: bool
    path: str
    secure: bool
    expires: int
    name: str
    value: str
    http_only: bool = False

    def line(self) -> str:
        flag = {True: "TRUE", False: "FALSE"}
        domain = (_HTTP_ONLY if self.http_only else "") + self.domain
        return "\t".join(
            (
                domain,
                flag[self.subdomains],
                self.path,
                flag[self.secure],
                str(self.expires),
                self.name,
                self.value,
            )
        )


def _bad(number: int, why: str) -> FerrymanError:
    return FerrymanError("cookies.invalid", f"line {number}: {why}")


def parse(text: str) -> list[Cookie]:
    """The cookies of a Netscape cookies file; ``cookies.invalid`` (with the line's
    number) for anything else, and for a file with no cookie at all."""
    found: list[Cookie] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        http_only = line.startswith(_HTTP_ONLY)
        if http_only:
            line = line[len(_HTTP_ONLY) :]
        elif not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) == 6:  # an empty value at the end is cut by some exporters
            fields.append("")
        if len(fields) != 7:
            many = f"{len(fields)} tab-separated field" + ("s" if len(fields) > 1 else "")
            raise _bad(number, f"{many}, where a cookie has 7")
        domain, subdomains, path, secure, expires, name, value = fields
        if not domain or any(c.isspace() for c in domain) or not domain.isprintable():
            raise _bad(number, "no domain")
        if subdomains not in _FLAGS or secure not in _FLAGS:
            raise _bad(number, "the 2nd and 4th fields are TRUE or FALSE")
        if not expires.isascii() or not expires.isdigit() or len(expires) > 12:
            raise _bad(number, "the 5th field is a time in Unix seconds")
        if not path.startswith("/") or not name or not (name + value + path).isprintable():
            raise _bad(number, "a cookie has a path (starting /), a name and a value")
        found.append(
            Cookie(
                domain, _FLAGS[subdomains], path, _FLAGS[secure], int(expires), name, value,
                http_only,
            )
        )  # fmt: skip
    if not found:
        raise FerrymanError("cookies.invalid", "no cookie in it")
    return found


def parse_bytes(data: bytes) -> list[Cookie]:
    """``parse`` of an uploaded file's bytes (UTF-8, a BOM allowed, at most 256 KiB)."""
    if len(data) > MAX_BYTES:
        raise FerrymanError(
            "cookies.invalid", f"{len(data)} bytes: a cookies.txt is at most {MAX_BYTES}"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FerrymanError("cookies.invalid", "not text (UTF-8)") from None
    return parse(text)


def render(cookies: list[Cookie]) -> str:
    return HEADER + "\n" + "".join(c.line() + "\n" for c in cookies)


def summary(cookies: list[Cookie]) -> dict[str, object]:
    """What may be said of kept cookies: how many, for which sites (no name, no value)."""
    sites = sorted({c.domain.lstrip(".").lower() for c in cookies})
    return {"count": len(cookies), "sites": sites}


class KeptCookies(PrivateFile):
    """The page's cookies.txt under ``<data_dir>/cookies/`` (blocking: call off the
    event loop)."""

    def __init__(self, data_dir: Path, person: int | None = None) -> None:
        """``person``: a person's own (``users.id``); None: the server's."""
        super().__init__(data_dir, "cookies", "cookies.txt", person)

    def put(self, data: bytes) -> dict[str, object]:
        """Check ``data`` and keep it (replacing what was kept); what ``view`` says."""
        self.keep(render(parse_bytes(data)))
        return self.view()

    def view(self) -> dict[str, object]:
        """Whether cookies are kept, how many, for which sites, since when."""
        try:
            text = self.path.read_text(encoding="utf-8")
            since = self.path.stat().st_mtime
            cookies = parse(text)
        except (OSError, FerrymanError):
            return {"kept": False, "count": 0, "sites": [], "since": None}
        return {"kept": True, **summary(cookies), "since": since}


def cookies_for(settings: Settings, folder: Path, person: int | None = None) -> str | None:
    """The cookies file a link run hands yt-dlp: a copy, in the run's ``folder``, of the
    one given through the page (yt-dlp writes its jar back at the end: into the copy,
    never over a file the page replaced meanwhile), else ``links.cookies_file``, else
    none. A person's (``person``, not an administrator) run: their own copy or none."""

    kept = KeptCookies(settings.data_dir, person).path
    copy = folder / "cookies.txt"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(kept, "rb") as source, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out)
        return str(copy)
    except FileNotFoundError:
        copy.unlink(missing_ok=True)
    if person is not None:
        return None  # the server's cookies are the administrators'
    return str(settings.links.cookies_file) if settings.links.cookies_file else None
