"""A job's delivery options, carried in its destination after ``?``.

``telegram:@chan?as=documents&caption=%7Bjob_name%7D&thumb=/srv/thumb.jpg``: the text
before ``?`` names the destination as ever; after it, ``key=value`` pairs joined by
``&``, each value percent-encoded (``%26`` for ``&``). Keys: ``as`` (``media`` or
``documents``: photos and videos go as files), ``caption`` (the caption template of
this job, as ``caption_template``), ``thumb`` (a picture, by absolute path: the
thumbnail of documents) and ``convert`` (``yes``: a library's photos and videos made to
play anywhere, H.264 MP4 and JPEG, not kept as they are: ``add --convert``) and
``media`` (``only``: a library keeps the input's photos, videos and sounds, not its
other files: ``add --media-only``). A kind
says which keys it takes (``SinkKind.takes``). The options live in the job's stored
``dest``, so every stage that resolves it has them, across restarts, with nothing else
to store. Parsing is total: anything else is
``sink.unknown`` saying what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import NoReturn
from urllib.parse import quote, unquote

from ferryman.caption_template import NO_PHOTO_FIELDS, render_caption
from ferryman.errors import FerrymanError

KEYS = ("as", "caption", "thumb", "convert", "media")
AS_VALUES = ("media", "documents")
CAPTION_MAX = 1024  # as ``caption_template``
FORMS = "?as=documents, &caption=TEMPLATE, &thumb=/path/picture.jpg, &convert=yes, &media=only"


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """What a job asked of its delivery; None / False where the settings decide."""

    as_documents: bool = False
    caption: str | None = None  # a caption template (``render_caption``)
    thumb: str | None = None  # an absolute path to a picture
    convert: bool = False  # media made to play anywhere, not kept as they are
    media_only: bool = False  # a library keeps media alone, not every file of the input

    @property
    def given(self) -> tuple[str, ...]:
        """The keys set, in :data:`KEYS` order."""
        values = {
            "as": self.as_documents,
            "caption": self.caption,
            "thumb": self.thumb,
            "convert": self.convert,
            "media": self.media_only,
        }
        return tuple(key for key in KEYS if values[key])

    def query(self) -> str:
        """``?key=value&…`` as a destination carries them (canonical order and
        encoding); empty when none is set."""
        pairs = []
        if self.as_documents:
            pairs.append("as=documents")
        if self.caption:
            pairs.append("caption=" + quote(self.caption, safe=""))
        if self.thumb:
            pairs.append("thumb=" + quote(self.thumb, safe="/"))
        if self.convert:
            pairs.append("convert=yes")
        if self.media_only:
            pairs.append("media=only")
        return "?" + "&".join(pairs) if pairs else ""


NO_OPTIONS = DeliveryOptions()  # a destination without options


def split(dest: str) -> tuple[str, DeliveryOptions]:
    """The destination without its options, and its options (``sink.unknown`` for
    options that are not well formed)."""
    base, sep, query = dest.partition("?")
    if not sep:
        return dest, NO_OPTIONS
    found: dict[str, str] = {}
    for pair in query.split("&"):
        key, eq, raw = pair.partition("=")
        if not eq or key not in KEYS:
            _refuse(dest, f"'{pair}' is not an option")
        if key in found:
            _refuse(dest, f"{key} is given twice")
        try:
            found[key] = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            _refuse(dest, f"the value of {key} is not UTF-8 once decoded")
    return base, DeliveryOptions(
        as_documents=_as(dest, found.get("as")),
        caption=_caption(dest, found.get("caption")),
        thumb=_thumb(dest, found.get("thumb")),
        convert=_convert(dest, found.get("convert")),
        media_only=_media(dest, found.get("media")),
    )


def _as(dest: str, value: str | None) -> bool:
    if value is None:
        return False
    if value not in AS_VALUES:
        _refuse(dest, f"as is {' or '.join(AS_VALUES)}, not '{value}'")
    return value == "documents"


def _caption(dest: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip() or len(value) > CAPTION_MAX:
        _refuse(dest, f"a caption template has 1 to {CAPTION_MAX} characters")
    try:
        render_caption(value, job_name="x", album=1, albums="1", items=1, **NO_PHOTO_FIELDS)
    except ValueError as exc:  # a name not known, a brace alone
        _refuse(dest, str(exc).replace("caption_template", "caption"))
    except (TypeError, AttributeError, OverflowError) as exc:  # {album[0]}, {items.x}
        _refuse(dest, f"caption can use {{job_name}}, {{album}}, {{albums}}, {{items}}… ({exc})")
    return value


def _convert(dest: str, value: str | None) -> bool:
    if value is None:
        return False
    if value not in ("yes", "no"):
        _refuse(dest, f"convert is yes or no, not '{value}'")
    return value == "yes"


def _media(dest: str, value: str | None) -> bool:
    if value is None:
        return False
    if value not in ("only", "all"):
        _refuse(dest, f"media is only or all, not '{value}'")
    return value == "only"


def _thumb(dest: str, value: str | None) -> str | None:
    if value is None:
        return None
    if "\0" in value or not PurePosixPath(value).is_absolute():
        _refuse(dest, "thumb is a picture's absolute path (/…/thumb.jpg)")
    return value


def _refuse(dest: str, why: str) -> NoReturn:
    raise FerrymanError(
        "sink.unknown",
        f"the options of destination {dest!r} are not well formed: {why};"
        f" options are {FORMS} (values percent-encoded)",
    )
