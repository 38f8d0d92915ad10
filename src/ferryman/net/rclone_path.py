"""``REMOTE:path`` as rclone reads it, connection strings included: a remote of the
rclone.conf (``gdrive:Photos``), one with parameters overriding its config
(``gdrive,shared_with_me:Photos``) or a backend made on the fly
(``:webdav,url='http://127.0.0.1:8080':dir``, ``:local:/srv/x``).

The grammar is rclone's (``fs/fspath.Parse``): a name (``:`` before it for a backend),
then ``,key`` (``true``) or ``,key=value`` items, then ``:`` and the path; a value holding
``,`` or ``:`` is quoted with ``'`` or ``"``, a quote inside it doubled. ``parse_remote``
is total: anything else is the coded error its caller names, never another exception. The
remote part is kept as it was typed (``RemotePath.config``) and handed to rclone's rc API
intact: rclone parses it again, so what runs is what was shown and recorded.

A person (an account that is not an administrator's) may name only a plain remote of
their own rclone.conf: ``refuse_for_person`` (``rclone.conn_refused``), because a
parameter or an on-the-fly backend could point rclone at the server's own disk or files
(``:local:``, ``key_file=``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ferryman.errors import FerrymanError

# A remote's (or a backend's) name as rclone allows it: letters, digits, ``_ - . + @``,
# spaces inside.
_NAME = re.compile(r"[\w.+@-](?:[\w.+@ -]*[\w.+@-])?")
_KEY = re.compile(r"[A-Za-z0-9_]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A parameter whose value is a secret, shown as ``***`` (rclone's own: ``pass``,
# ``password2``, ``token``, ``client_secret``, ``secret_access_key``, ``key`` (Azure's,
# B2's), ``sas_url``, ``service_account_credentials``, ``bearer_token``, ``cookie``…).
_SECRET = re.compile(r"pass|secret|token|key|credential|sas_url|auth|cookie|session", re.I)
_FORM = "REMOTE:path (rclone:gdrive:Photos; rclone's connection strings: rclone:gdrive,key=value:path, rclone::backend,key='value':path)"  # noqa: E501


@dataclass(frozen=True, slots=True)
class RemotePath:
    """One parsed ``REMOTE:path``."""

    name: str  # the remote's name, or the backend's (``webdav``) for one made on the fly
    on_the_fly: bool  # ``:backend…``: no remote of a config
    params: tuple[tuple[str, str], ...]  # ``key=value`` overrides, in the order given
    config: str  # the remote part as typed, before its ``:`` (``:webdav,url='…'``)
    path: str  # after it: the folder or file on the remote ("" for its root)

    @property
    def plain(self) -> bool:
        """A remote of a config named alone: no parameter, not on the fly."""
        return not self.on_the_fly and not self.params

    @property
    def text(self) -> str:
        """As rclone takes it (and as it was given)."""
        return f"{self.config}:{self.path}"

    def fs(self, path: str | None = None) -> str:
        """rclone's ``fs`` for ``path`` (this one's by default) on the same remote."""
        return f"{self.config}:{self.path if path is None else path}"


class _Unread(ValueError):
    """Why a text is no ``REMOTE:path`` (``parse_remote`` says it with its caller's code)."""


def parse_remote(text: str, code: str = "sink.unknown", what: str = "rclone remote") -> RemotePath:
    """``text`` (``REMOTE:path``, without ``rclone:``) parsed; ``code`` (the caller's:
    ``sink.unknown`` for a destination, ``source.invalid``…) naming what is wrong, for
    anything rclone would not read as a remote, a control character, or a path that
    climbs with ``..``."""
    try:
        found = _parsed(text)
    except _Unread as exc:
        raise FerrymanError(code, f"{what} '{text}' is not {_FORM}: {exc}") from None
    if ".." in found.path.split("/"):
        raise FerrymanError(code, f"{what} '{text}' climbs with ..")
    return found


def _parsed(text: str) -> RemotePath:
    if not isinstance(text, str):
        raise _Unread("it is not text")
    if _CONTROL.search(text):
        raise _Unread("it holds a control character")
    on_the_fly = text.startswith(":")
    at = 1 if on_the_fly else 0
    end = at
    while end < len(text) and text[end] not in ",:":
        end += 1
    name = text[at:end]
    if end == len(text):
        raise _Unread("no ':' after the remote's name")
    if not _NAME.fullmatch(name):
        raise _Unread(f"'{name}' is not a remote's name" if name else "no remote named")
    params: list[tuple[str, str]] = []
    i = end
    while text[i] == ",":
        i += 1
        key_end = i
        while key_end < len(text) and text[key_end] not in ",:=":
            key_end += 1
        key = text[i:key_end]
        if not _KEY.fullmatch(key):
            raise _Unread(f"'{key}' is not a parameter (letters, digits and _)")
        if key_end == len(text):
            raise _Unread(f"no ':' after the parameter {key}")
        if text[key_end] != "=":
            params.append((key, "true"))
            i = key_end
            continue
        value, i = _value(text, key_end + 1, key)
        params.append((key, value))
    return RemotePath(name, on_the_fly, tuple(params), text[:i], text[i + 1 :])


def _value(text: str, at: int, key: str) -> tuple[str, int]:
    """The value of ``key`` starting at ``at``, unquoted, and where its ``,`` or ``:`` is."""
    if at < len(text) and text[at] in "'\"":
        quote, i, parts = text[at], at + 1, []
        while True:
            close = text.find(quote, i)
            if close < 0:
                raise _Unread(f"the value of {key} has no closing {quote}")
            parts.append(text[i:close])
            after = close + 1
            if after < len(text) and text[after] == quote:  # a doubled quote: one
                parts.append(quote)
                i = after + 1
                continue
            if after == len(text) or text[after] not in ",:":
                raise _Unread(f"the quoted value of {key} is not followed by ',' or ':'")
            return "".join(parts), after
    i = at
    while i < len(text) and text[i] not in ",:":
        i += 1
    if i == len(text):
        raise _Unread(f"no ':' after the value of {key}")
    return text[at:i], i


def quoted(value: str) -> str:
    """``value`` as a connection string's parameter value rclone reads back the same."""
    if value and not any(c in value for c in ",:'\""):
        return value
    return "'" + value.replace("'", "''") + "'"


def shown_remote(text: str) -> str:
    """``text`` (``REMOTE:path``) to show a person, a log or a notice: a connection
    string's secret values (``pass=``, ``secret_access_key=``, ``token=``…) as ``***``,
    the rest as typed; a text that is no connection string, as it is."""
    try:
        found = _parsed(text)
    except _Unread:
        return text
    if found.plain or not any(_SECRET.search(key) for key, _ in found.params):
        return text
    items = [(":" if found.on_the_fly else "") + found.name]
    for key, value in found.params:
        items.append(f"{key}=***" if _SECRET.search(key) else f"{key}={quoted(value)}")
    return f"{','.join(items)}:{found.path}"


def shown_dest(dest: str) -> str:
    """A job's or a watch's destination to show: an ``rclone:`` one's secret values
    hidden (``shown_remote``), its options (``?…``) kept; any other as it is."""
    if dest[:7].lower() != "rclone:":
        return dest
    target, sep, options = dest[7:].partition("?")
    return dest[:7] + shown_remote(target) + sep + options


def refuse_for_person(texts: Iterable[str | None]) -> None:
    """``rclone.conn_refused`` for the first ``rclone:`` text among ``texts`` (an input,
    a destination, a watched folder, ``move:REMOTE:DIR``) that is a connection string or
    an on-the-fly backend: a person names only a remote of their own rclone.conf. Told by
    its shape alone, whether the rest parses or not: a name holds no ``,`` and no ``:``,
    so a text whose remote part starts with ``:`` or has a ``,`` before its first ``:``
    is one."""
    for text in texts:
        if not text or text.strip()[:7].lower() != "rclone:":
            continue
        rest = text.strip()[7:]
        head = rest.partition(":")[0]
        if rest.startswith(":") or "," in head:
            what = "a backend made on the fly" if rest.startswith(":") else "parameters"
            raise FerrymanError(
                "rclone.conn_refused",
                f"{text}: {what} in an rclone remote may be given only by an administrator;"
                " name a remote of your own rclone.conf (rclone:REMOTE:path)",
            )


__all__ = [
    "RemotePath",
    "parse_remote",
    "quoted",
    "refuse_for_person",
    "shown_dest",
    "shown_remote",
]
