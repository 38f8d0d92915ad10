"""An XMP sidecar beside a photo a library keeps untouched: when it was taken, where
and what it shows, as a Google Takeout's JSON told (``MediaInfo.told``).

Named ``photo.jpg.xmp`` (darktable's and digiKam's way, which Lightroom and Immich read
too): a Live Photo's ``IMG.HEIC`` and ``IMG.MOV`` each keep their own. The fields are
those every reader knows: ``exif:DateTimeOriginal`` and ``photoshop:DateCreated`` (UTC,
``Z``), ``exif:GPSLatitude``/``GPSLongitude`` (``DDD,MM.mmmmmmN``, XMP's own form),
``exif:GPSAltitude`` with its ``GPSAltitudeRef``, and ``dc:description``.

A later export of the same photo (already in the library) brings the facts as Google
Photos has them then: a sidecar ferryman wrote is rewritten with them (``beside``,
``refresh``: written beside, synced, renamed over it), one it did not write (a
person's, Lightroom's, digiKam's) is never touched. Ferryman's are known by their exact
shape, ``x:xmptk="ferryman"`` among it (what ``xmp_text`` writes, and has always
written); a program that edits a sidecar writes its own toolkit's name there.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from datetime import UTC, datetime
from fractions import Fraction
from xml.sax.saxutils import escape, quoteattr

from ferryman.model import MediaInfo

log = logging.getLogger(__name__)

SUFFIX = ".xmp"
_HEAD = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="ferryman">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""\n'
    '    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
    '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
    '    xmlns:dc="http://purl.org/dc/elements/1.1/"'
)
_TAIL = '</rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>\n'
_DESCRIBED = (
    '\n   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">',
    "</rdf:li></rdf:Alt></dc:description>\n  ",
)
# What xmp_text writes, whatever the facts: its attributes (no quote, no markup in
# their values: dates and numbers) and its description (escaped: no "<").
_OURS = re.compile(
    re.escape(_HEAD)
    + r'(?:\n    (?:exif|photoshop):[A-Za-z]+="[^"<&]*")*>'
    + f"(?:{re.escape(_DESCRIBED[0])}[^<]*{re.escape(_DESCRIBED[1])})?"
    + re.escape(_TAIL)
)
_LARGEST = 1 << 20  # bytes: a sidecar of ferryman's is a few hundred; larger is another's


def xmp_name(name: str) -> str:
    """The sidecar's name for the file named ``name``."""
    return f"{name}{SUFFIX}"


def wanted(media: MediaInfo | None) -> bool:
    """Whether a file with these facts gets a sidecar: one a sidecar told of (a place
    or a description; a time alone is the file's modified time already)."""
    return media is not None and media.placed


def xmp_text(media: MediaInfo) -> str:
    """The XMP packet for these facts."""
    attributes: list[tuple[str, str]] = []
    if media.taken is not None:
        when = _utc(media.taken)
        if when is not None:
            attributes += [("exif:DateTimeOriginal", when), ("photoshop:DateCreated", when)]
    if media.latitude is not None and media.longitude is not None:
        attributes += [
            ("exif:GPSLatitude", _coordinate(media.latitude, "NS")),
            ("exif:GPSLongitude", _coordinate(media.longitude, "EW")),
        ]
        if media.altitude is not None:
            height = Fraction(abs(media.altitude)).limit_denominator(1000)
            attributes += [
                ("exif:GPSAltitude", f"{height.numerator}/{height.denominator}"),
                ("exif:GPSAltitudeRef", "1" if media.altitude < 0 else "0"),
            ]
        attributes.append(("exif:GPSVersionID", "2.3.0.0"))
    said = "".join(f"\n    {key}={quoteattr(value)}" for key, value in attributes)
    body = ""
    if media.description:
        body = escape(_xml_chars(media.description)).join(_DESCRIBED)
    return f"{_HEAD}{said}>{body}{_TAIL}"


def _utc(seconds: float) -> str | None:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


def _coordinate(degrees: float, hemispheres: str) -> str:
    """XMP's GPS coordinate: whole degrees, decimal minutes, the hemisphere's letter."""
    letter = hemispheres[0] if degrees >= 0 else hemispheres[1]
    whole = int(abs(degrees))
    minutes = (abs(degrees) - whole) * 60
    return f"{whole},{minutes:.6f}{letter}"


def _xml_chars(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (controls, lone surrogates)."""
    return "".join(
        c
        for c in text
        if c in "\t\n\r" or ("\x20" <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd") or c > "\uffff"
    )


def coordinate_degrees(text: str) -> float:
    """Degrees of an XMP coordinate (``48,51.504000N``): what a reader makes of it."""
    hemisphere = text[-1]
    whole, minutes = text[:-1].split(",")
    value = int(whole) + float(minutes) / 60
    return -value if hemisphere in "SW" else value


def write_xmp(path: str, media: MediaInfo) -> None:
    """The sidecar written at ``path`` and made durable (never over a file: a name
    taken keeps its file, ``FileExistsError``)."""
    data = xmp_text(media).encode()
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def is_ours(data: bytes) -> bool:
    """Whether a sidecar's bytes are one ferryman wrote (its exact shape: any facts)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _OURS.fullmatch(text) is not None


def _read(path: str) -> bytes | None:
    """A sidecar's bytes: None where it is no plain file (a link is never followed),
    larger than any of ferryman's, or unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        data = handle.read(_LARGEST + 1)
    return data if len(data) <= _LARGEST else None


def beside(path: str, media: MediaInfo, photo_there: bool) -> dict[str, bool]:
    """What becomes of the sidecar at ``path`` (in the library, beside its photo), as a
    manifest's entry says it: none there, the new one goes in (``already`` False); the
    photo already there with a sidecar of ferryman's telling other facts (a place or a
    description corrected in Google Photos since), it is rewritten (``refresh``); else
    the one there stays as it is (``already``): the same, or not ferryman's (logged)."""
    if not os.path.lexists(path):
        return {"already": False}
    if not photo_there:  # beside another photo's name: not this photo's to change
        return {"already": True}
    found = _read(path)
    if found is not None and is_ours(found):
        return {"already": True} if found == xmp_text(media).encode() else {"refresh": True}
    log.warning(
        "%s: not written by ferryman (a person's or another program's): left as it is,"
        " without the place and description of this export",
        path,
    )
    return {"already": True}


def refresh(staged: str, path: str) -> bool:
    """The library's sidecar ``path`` replaced by ``staged`` (written beside and synced
    already: a rename, whole or not at all), when it is ferryman's still (asked again:
    a manifest placed after a kill, or a person's program that wrote it since); else
    ``staged`` goes and ``path`` stays. Whether it was replaced (the caller syncs the
    folder)."""
    found = _read(path)
    if found is None or not is_ours(found):
        os.unlink(staged)
        log.warning("%s: not written by ferryman: left as it is", path)
        return False
    os.replace(staged, path)
    log.info("%s: rewritten with the place and description of the later export", path)
    return True
