"""A downloaded file's name: what the server says (RFC 6266), else the URL, made safe.

Both are hostile input: a ``Content-Disposition`` may carry ``../../etc/passwd``, a
Windows path, control characters or a name too long for any filesystem. Only the
last path segment is ever kept, and it goes through the same sanitising as an
archive's entry names.
"""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from ferryman.archive.names import sanitize_path
from ferryman.fsutil import safe_name

FALLBACK_NAME = "download"
_MAX_STEM_CHARS = 150  # fsutil.safe_name cuts at 180; keep the extension inside that
_MAX_EXT_CHARS = 16
# One parameter of a header: name=token or name="quoted \"string\"".
_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
# Content types that say nothing about a file's name.
_GENERIC_TYPES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "application/x-download", "text/plain"}
)


def disposition_filename(header: str | None) -> str | None:
    """The raw filename from ``Content-Disposition``: ``filename*`` (RFC 5987) first.

    Unsanitised; ``None`` when the header names none (or only in an encoding that
    cannot be decoded).
    """
    if not header:
        return None
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + header.split(";", 1)[1] if ";" in header else ""):
        key = match.group(1).lower()
        params.setdefault(key, match.group(2).strip())
    extended = params.get("filename*")
    if extended:
        decoded = _decode_ext_value(extended)
        if decoded:
            return decoded
    plain = params.get("filename")
    if plain:
        return _plain_value(plain) or None
    return None


def _decode_ext_value(value: str) -> str | None:
    """``charset'lang'percent-encoded`` (RFC 5987); UTF-8 and ISO-8859-1 only."""
    value = value.strip('"')
    parts = value.split("'", 2)
    if len(parts) != 3:
        return None
    charset = parts[0].strip().lower()
    if charset not in ("utf-8", "iso-8859-1", "latin-1", "latin1"):
        return None
    raw = unquote_to_bytes(parts[2])
    try:
        return raw.decode("utf-8" if charset == "utf-8" else "latin-1")
    except UnicodeDecodeError:
        return None


def _plain_value(value: str) -> str:
    """A quoted-string unescaped; raw UTF-8 that arrived as Latin-1 decoded back."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    try:  # httpx reads header bytes as Latin-1; many servers send UTF-8 there
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def url_filename(url: str) -> str | None:
    """The last segment of a URL's path, percent-decoded; ``None`` when it is empty."""
    path = urlsplit(url).path
    last = path.rsplit("/", 1)[-1]
    text = unquote(last, encoding="utf-8", errors="replace")
    return text or None


def safe_filename(raw: str | None) -> str | None:
    """One path component safe to create anywhere, or ``None`` when nothing is left.

    Only the last segment survives (``../../etc/passwd`` → ``passwd``; a Windows
    ``C:\\x\\y.zip`` → ``y.zip``); control characters, reserved characters and
    leading/trailing dots and spaces go; over-long names are cut keeping the
    extension.
    """
    if not raw:
        return None
    cleaned = sanitize_path(raw, 0)
    if cleaned == "entry-0" and raw.strip() != "entry-0":
        return None
    last = cleaned.rsplit("/", 1)[-1]
    stem, dot, ext = last.rpartition(".")
    if not dot or not stem or len(ext) > _MAX_EXT_CHARS:
        stem, ext = last, ""
    name = stem[:_MAX_STEM_CHARS] + (f".{ext}" if ext else "")
    result = safe_name(name, fallback="")
    return result or None


def pick_filename(disposition: str | None, final_url: str, content_type: str | None = None) -> str:
    """The name to save a download under: RFC 6266, else the final URL, else a fallback.

    A name without an extension gets one from a specific Content-Type
    (``video/mp4`` → ``.mp4``) so people and programs can open it.
    """
    name = safe_filename(disposition_filename(disposition)) or safe_filename(
        url_filename(final_url)
    )
    name = name or FALLBACK_NAME
    if "." not in name.lstrip(".") and content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        ext = mimetypes.guess_extension(mime) if mime not in _GENERIC_TYPES else None
        if ext:
            name += ext
    return name
