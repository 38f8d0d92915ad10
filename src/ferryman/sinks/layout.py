"""Where a library puts each file: ``library_layout``, a small template.

``{source}`` (the job's name; a watch's looks share the watch's), ``{path}`` (the
folders the file was in, inside the input: ``2023/Summer``; empty for a file at its
top), ``{name}`` (the delivered file's name), ``{title}`` (that name without its
suffix), ``{ext}`` (its suffix, no dot), ``{album}`` (``0001``), ``{index}`` (the item's
number in its job), ``{kind}`` (photo, video…), ``{photo_album}`` (a Google Takeout
photo's album, the first by name; empty for others) and ``{date:%Y/%m}`` (when it was taken,
else its modified time; any ``strftime`` pattern). A ``/`` between fields makes folders,
and so do ``{path}``'s and a date pattern's; an empty field's folder is left out. Fields
are plain names and widths at most 999, checked where the setting is read
(``template_fields.check_layout``). Every rendered folder and file name goes through
``safe_name`` (no ``..``, no leading dot, no absolute path), so no template and no
hostile name can write outside the library or into its hidden ``.ferryman`` folder.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import PurePosixPath

from ferryman.errors import FerrymanError
from ferryman.fsutil import safe_name
from ferryman.model import BATCH_SCHEME, Batch
from ferryman.naming import uncounted
from ferryman.template_fields import (
    LAYOUT_ALBUMS,
    LAYOUT_FIELDS,
    TemplateError,
    check_layout,
)

ALBUMS = LAYOUT_ALBUMS  # the layout before templates: ``<job>/0001/`` beside a manifest.json
# Named folders, the input's own kept (two IMG_0001.jpg of 2023/ and 2024/ never meet):
# what Jellyfin, Plex and Immich show.
DEFAULT = "{source}/{path}/{name}"
FIELDS = LAYOUT_FIELDS
FOLDERS = frozenset({"path"})  # fields whose "/" makes folders
OPTIONAL = frozenset({"photo_album"})  # fields whose folder is left out when they are empty


def check_template(template: str) -> None:
    """``config.invalid`` naming what is wrong (``template_fields.check_layout``: fields
    plain and known, widths at most 999, a file named): the settings check it when read
    (``config set``, the settings file), and ``add`` and a sink's opening again."""
    try:
        check_layout(template)
    except TemplateError as exc:
        raise _invalid(template, str(exc)) from None


def _invalid(template: str, why: str) -> FerrymanError:
    return FerrymanError("config.invalid", f"library_layout {template!r}: {why}")


def render(template: str, values: dict[str, str], when: datetime) -> PurePosixPath:
    """The file's path in the library, relative, every part a safe name. A field's
    value never makes folders (its ``/`` becomes ``_``); the template's own ``/``,
    ``{path}``'s and a date pattern's do."""
    out: list[str] = []
    for literal, field, spec in _parsed(template):
        out.append(literal)
        if field is None:
            continue
        if field == "date":
            out.append("/".join(safe_name(p, "_") for p in when.strftime(spec or "%Y").split("/")))
        elif field in OPTIONAL and not values[field]:
            continue
        elif field in FOLDERS:
            kept = (p for p in values[field].split("/") if p not in ("", "."))
            out.append("/".join(safe_name(p, "_") for p in kept))
        else:
            out.append(safe_name(format(values[field], spec or ""), "_").replace("/", "_"))
    parts = [safe_name(part, "_") for part in "".join(out).split("/") if part.strip(" .")]
    if not parts:
        raise FerrymanError("config.invalid", f"library_layout {template!r} rendered empty")
    return PurePosixPath(*parts)


@functools.lru_cache(maxsize=8)
def _parsed(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """The template's pieces, checked and parsed once (``render`` runs for every
    delivered file): one that was never checked (a store's old setting) is refused
    here, before a field is filled."""
    try:
        pieces = check_layout(template)
    except TemplateError as exc:
        raise _invalid(template, str(exc)) from None
    return tuple((p.literal, p.field, p.spec) for p in pieces)


# The one folder every Google Takeout export holds, in every language: a job named by
# it (``engine/read/folder_name``) is an export of a person's account.
TAKEOUT = "Takeout"


def source_folder(job_name: str, source: str) -> str:
    """``{source}``: the job's name, but a watch's look goes under the name the watch's
    looks share (``Camera``, not ``Camera (2)``: its ``batch:`` source says), so a
    watched folder grows one folder of the library; and a Google Takeout export goes
    under ``Takeout`` whatever count its job's name took (``Takeout (2)``): each export is
    the same account again, so a later one grows the first one's folder, its photos
    already there (the same bytes at the same place) not stored twice. Names met twice
    there are made unique as any (``IMG_0001 (2).jpg``); nothing is written over."""
    if not source.startswith(f"{BATCH_SCHEME}:"):
        return TAKEOUT if uncounted(job_name) == TAKEOUT else job_name
    folder = _batch_folder(source)
    return job_name if folder is None else folder


@functools.lru_cache(maxsize=16)
def _batch_folder(source: str) -> str | None:
    """The batch's shared folder, parsed once per job, not once per album: a look of
    thousands of entries is a long ``batch:`` source."""
    try:
        return Batch.parse(source).folder
    except ValueError:
        return None


def input_folders(source_path: str, job_name: str) -> str:
    """``{path}``: the folders an item was in inside its input, without a first folder
    named as the job's ``{source}`` (an archive holding one top folder is named by it:
    its files would sit in ``Trip/Trip/``), counted too: a second input of that folder
    in the same place is ``Trip (2)`` (``naming.free_job_name``), its files in
    ``Trip (2)/2024/``, as the first's in ``Trip/2024/``, not ``Trip (2)/Trip/2024/``
    (two Google Takeouts, each ``Takeout/``, share one: ``source_folder``)."""
    parts = [p for p in source_path.replace("\\", "/").split("/")[:-1] if p not in ("", ".")]
    named = {safe_name(n, "_").casefold() for n in (job_name, uncounted(job_name))}
    if parts and safe_name(parts[0], "_").casefold() in named:
        parts = parts[1:]
    return "/".join(parts)
