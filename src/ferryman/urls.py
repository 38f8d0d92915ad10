"""A link split the one way every parser splits it: totally.

``urllib.parse.urlsplit`` raises ``ValueError`` on an unclosed ``[``, ``.port`` raises
on ``:99999`` or ``:-1``, and IDNA raises ``UnicodeError`` on an empty or over-long
label: each of those reached a front door as a bare 500 or a traceback. ``split_link``
checks a link once, as the network code will later read it (httpx's IDNA rules), and
answers the split or ``link.invalid`` with what is wrong; the parts it returns
(``.hostname``, ``.port``) can then be read without raising.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import urllib.parse

from ferryman.errors import FerrymanError

# Characters no link holds as written (a real link percent-escapes them): controls,
# format characters (bidi overrides, zero-width joiners), lone surrogates, line breaks.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
MAX_HOST = 253  # DNS's limit on a whole name, dots included


def _invalid(text: str, why: str) -> FerrymanError:
    return FerrymanError("link.invalid", f"'{shown(text)}' is not a well-formed link: {why}")


def shown(text: str, limit: int = 200) -> str:
    """A link that may not parse, safe to print: no user info and no query (tokens
    live there), controls and format characters escaped, cut to ``limit``."""
    scheme, sep, rest = text.partition("://")
    if sep:
        cut = min(
            (i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0),
            default=len(rest),
        )
        rest = rest[:cut].rpartition("@")[2] + rest[cut:]
    head, query, _ = (scheme + sep + rest).partition("?")
    text = head + ("?…" if query else "")
    out = "".join(
        ch if unicodedata.category(ch) not in _REFUSED_CATEGORIES else ascii(ch)[1:-1]
        for ch in text[:limit]
    )
    return out + ("…" if len(text) > limit else "")


def refused_character(text: str) -> str | None:
    """The first character of ``text`` a link may not hold as written, else None."""
    for ch in text:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return ch
    return None


def scheme_of(text: str) -> str:
    """The scheme ``text`` starts with, lower-cased ('' if none): what ``urlsplit`` says,
    without its ``ValueError`` on a link whose host part is broken."""
    scheme, sep, _ = text.partition(":")
    return scheme.lower() if sep and _SCHEME.match(scheme) else ""


def check_host(host: str, *, bracketed: bool = False) -> str | None:
    """What is wrong with ``host`` (a name or an address, without the brackets it had
    if ``bracketed``), else None."""
    if not host:
        return "it names no host"
    if ":" in host or bracketed:  # only an IPv6 literal holds a colon
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"[{host}] is not an IPv6 address"
        return None
    name = host[:-1] if host.endswith(".") else host  # a trailing dot: a full name
    if not name.isascii():
        try:
            import idna  # httpx's own IDNA rules: what passes here, httpx can connect to

            name = idna.encode(name.lower()).decode("ascii")
        except (UnicodeError, ValueError) as exc:
            return f"the host '{host}' is not a valid international name ({exc})"
    if len(name) > MAX_HOST:
        return f"the host is {len(name)} characters long (at most {MAX_HOST})"
    for label in name.split("."):
        if not label:
            return f"the host '{host}' has an empty label (two dots, or a leading one)"
        if len(label) > 63:
            return f"the host '{host}' has a label over 63 characters"
        if not _LABEL.match(label):
            return f"the host '{host}' has a label that is not letters, digits, - or _"
        if label.lower().startswith("xn--"):
            try:
                import idna  # lazy: start-up

                idna.decode(label)
            except (UnicodeError, ValueError):
                return f"the host '{host}' has a label that is not valid Punycode"
    return None


def split_link(text: str) -> urllib.parse.SplitResult:
    """``text`` (``scheme://host[:port]/…``) split, every part checked; ``link.invalid``
    says what is wrong, and nothing else is raised. A link that names a host has a
    well-formed one, and a port in 1–65535."""
    bad = refused_character(text)
    if bad is not None:
        raise _invalid(text, f"it holds the character {bad!a}")
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise _invalid(text, str(exc).lower()) from None
    if not _SCHEME.match(parts.scheme):
        raise _invalid(text, "it has no scheme (http://, davs://…)")
    if port == 0:
        raise _invalid(text, "port 0 is no port (1 to 65535)")
    host = parts.hostname
    if parts.netloc and host is not None:
        why = check_host(host, bracketed="[" in parts.netloc)
        if why is not None:
            raise _invalid(text, why)
    return parts
