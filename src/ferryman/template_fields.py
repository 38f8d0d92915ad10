"""The one check of ferryman's templates (``caption_template``, a destination's
``caption=``, ``library_layout``): Python's ``str.format`` syntax, kept small.

A template comes from a settings file, ``config set``, the chat's ``/settings`` or the
API, and is filled for every album or delivered file. So, when it is set (not when a
file is delivered):

- a field is a plain name from the template's own list: no attribute or index
  (``{job_name.__class__.__mro__}`` walks Python's objects), no conversion, no
  positional ``{}``;
- a width or precision is at most 999 (``{name:>500000000}`` made every delivered file
  cost 6 s and 494 MiB), and a spec holds no nested field (``{name:>{album}}``, whose
  width would be a value's);
- a date pattern (``library_layout``'s ``{date:%Y/%m}``) is ``strftime``'s, its
  directives' widths (``%500000000Y`` in glibc) bounded alike.

``check`` is total: any text gives the fields or a ``TemplateError`` (a ``ValueError``)
saying what is wrong.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection
from dataclasses import dataclass

MAX_WIDTH = 999  # Telegram's captions hold 1,024 characters; a file name 255 bytes
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Python's format-spec mini-language, each part named: [[fill]align][sign][z][#][0]
# [width][grouping][.precision][type]
_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>[0-9]*)[_,]?(?:\.(?P<precision>[0-9]+))?"
    r"[bcdeEfFgGnosxX%]?\Z",
    re.DOTALL,
)
_STRFTIME_WIDTH = re.compile(r"%[-_0^#]*([0-9]+)")


class TemplateError(ValueError):
    """What is wrong with a template, in words for the person who wrote it."""


@dataclass(frozen=True, slots=True)
class Piece:
    """Literal text, then a field (None: the end) with its spec."""

    literal: str
    field: str | None
    spec: str


def check(template: str, known: Collection[str], dated: Collection[str] = ()) -> list[Piece]:
    """The template's pieces when every field is one of ``known`` (``dated``: those whose
    spec is a ``strftime`` pattern), plain and bounded; else ``TemplateError``."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:  # a brace alone, "{0!}"
        raise TemplateError(f"{exc} (a literal brace is written twice: {{{{ or }}}})") from None
    pieces = []
    for literal, field, spec, conversion in parsed:
        if field is not None:
            _field(field, known)
            if conversion is not None:
                raise TemplateError(f"{{{field}!{conversion}}}: write the field as {{{field}}}")
            if field in dated:
                _date(field, spec or "")
            else:
                _spec(field, spec or "")
        pieces.append(Piece(literal, field, spec or ""))
    return pieces


def _field(field: str, known: Collection[str]) -> None:
    if not NAME.match(field):
        words = "a name" if field in ("", *map(str, range(10))) else "a plain name"
        raise TemplateError(
            f"{{{field}}} is not {words}: fields are {_listed(known)}, without '.' or '[]'"
        )
    if field not in known:
        raise TemplateError(f"unknown field {{{field}}}; known: {_listed(known)}")


def _spec(field: str, spec: str) -> None:
    if "{" in spec or "}" in spec:
        raise TemplateError(f"{{{field}:{spec}}}: a width is a number, not a field")
    found = _SPEC.match(spec)
    if found is None:
        raise TemplateError(f"{{{field}:{spec}}}: not a format such as :>10 or :.20")
    for part in ("width", "precision"):
        _bounded(field, spec, found.group(part) or "0")


def _date(field: str, spec: str) -> None:
    if "{" in spec or "}" in spec:
        raise TemplateError(f"{{{field}:{spec}}}: a date pattern holds no field")
    for width in _STRFTIME_WIDTH.findall(spec):
        _bounded(field, spec, width)


def _bounded(field: str, spec: str, digits: str) -> None:
    significant = digits.lstrip("0")
    if len(significant) > 3 or int(significant or "0") > MAX_WIDTH:
        raise TemplateError(f"{{{field}:{spec}}}: a width is at most {MAX_WIDTH}, a precision too")


def _listed(known: Collection[str]) -> str:
    return ", ".join("{" + name + "}" for name in sorted(known))


# library_layout's fields (``sinks/layout.py`` fills them; the settings check them here)
LAYOUT_FIELDS = frozenset(
    {"source", "path", "name", "title", "ext", "album", "index", "kind", "date", "photo_album"}
)
LAYOUT_DATED = frozenset({"date"})
LAYOUT_ALBUMS = "albums"  # not a template: the album layout


def check_layout(template: str) -> list[Piece]:
    """``library_layout``'s pieces (none for ``albums``), each field filled once with a
    sample (its values are text: ``{index:d}`` fails here, not at a delivery)."""
    if template == LAYOUT_ALBUMS:
        return []
    pieces = check(template, LAYOUT_FIELDS, LAYOUT_DATED)
    if not any(p.field in {"name", "title", "index"} for p in pieces):
        raise TemplateError("it names no file: use {name}, {title} or {index}")
    for piece in pieces:
        if piece.field is not None and piece.field not in LAYOUT_DATED:
            try:
                format("x", piece.spec)
            except ValueError as exc:
                raise TemplateError(f"{{{piece.field}:{piece.spec}}}: {exc}") from None
    return pieces
