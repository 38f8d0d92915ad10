"""An XMP sidecar beside a photo a library keeps untouched: when it was taken, where
and what it shows, as a Google Takeout's JSON told (``MediaInfo.told``).

Named ``photo.jpg.xmp`` (darktable's and digiKam's way, which Lightroom and Immich read
too): a Live Photo's ``IMG.HEIC`` and ``IMG.MOV`` each keep their own. The fields are
those every reader knows: ``exif:DateTimeOriginal`` and ``photoshop:DateCreated`` (UTC,
``Z``), ``exif:GPSLatitude``/``GPSLongitude`` (``DDD,MM.mmmmmmN``, XMP's own form),
``exif:GPSAltitude`` with its ``GPSAltitudeRef``, and ``dc:description``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from fractions import Fraction
from xml.sax.saxutils import escape, quoteattr

from ferryman.model import MediaInfo

SUFFIX = ".xmp"


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
        text = escape(_xml_chars(media.description))
        body = (
            "\n   <dc:description><rdf:Alt>"
            f'<rdf:li xml:lang="x-default">{text}</rdf:li>'
            "</rdf:Alt></dc:description>\n  "
        )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="ferryman">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
        f'    xmlns:dc="http://purl.org/dc/elements/1.1/"{said}>{body}</rdf:Description>\n'
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>\n'
    )


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
