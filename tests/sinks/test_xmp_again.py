"""Whose is the XMP beside a photo a later Takeout export brings again (``sinks/xmp``):
ferryman's, by its exact shape (any facts, and one an older ferryman wrote, pinned
here byte for byte), is rewritten when the facts differ; a person's or another
program's (digiKam, Lightroom, ferryman's with a person's tag added, a link) never."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.model import MediaInfo
from ferryman.sinks.xmp import beside, is_ours, refresh, write_xmp, xmp_text

# Written by ferryman before it told its sidecars apart (the Eiffel tower's, 2019).
OLDER = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="ferryman">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""\n'
    '    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
    '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
    '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
    '    exif:DateTimeOriginal="2019-01-01T12:00:00Z"\n'
    '    photoshop:DateCreated="2019-01-01T12:00:00Z"\n'
    '    exif:GPSLatitude="48,51.502200N"\n'
    '    exif:GPSLongitude="2,17.668860E"\n'
    '    exif:GPSAltitude="35/1"\n'
    '    exif:GPSAltitudeRef="0"\n'
    '    exif:GPSVersionID="2.3.0.0">\n'
    '   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">Eiffel &amp; co</rdf:li>'
    "</rdf:Alt></dc:description>\n"
    "  </rdf:Description>\n"
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>\n'
).encode()
EIFFEL = MediaInfo(
    taken=1546344000.0,
    latitude=48.85837,
    longitude=2.294481,
    altitude=35.0,
    description="Eiffel & co",
)
LATER = MediaInfo(taken=1546344000.0, latitude=48.853, longitude=2.3499, description="Notre-Dame")
DIGIKAM = OLDER.replace(b'x:xmptk="ferryman"', b'x:xmptk="XMP Core 4.4.0-Exiv2"')
TAGGED = OLDER.replace(  # a person's keyword, added by a tool that kept the toolkit's name
    b"  </rdf:Description>",
    b"   <dc:subject><rdf:Bag><rdf:li>family</rdf:li></rdf:Bag></dc:subject>\n  </rdf:Description>",
)
LIGHTROOM = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
    b' xmp:Rating="5"/></rdf:RDF></x:xmpmeta>'
)


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=[*HealthCheck])
@given(
    st.one_of(st.none(), st.text(max_size=120)),
    st.one_of(st.none(), st.floats(-90, 90)),
    st.floats(-180, 180),
    st.one_of(st.none(), st.floats(-500, 9000)),
    st.one_of(st.none(), st.floats(86_400, 4_102_444_800)),
)
def test_every_sidecar_ferryman_writes_is_known_as_its_own(
    description: str | None, lat: float | None, lon: float, alt: float | None, taken: float | None
) -> None:
    media = MediaInfo(
        taken=taken,
        latitude=lat,
        longitude=None if lat is None else lon,
        altitude=alt,
        description=description,
    )
    assert is_ours(xmp_text(media).encode())


def test_an_older_ferrymans_sidecar_is_its_own_and_nobody_elses_is() -> None:
    assert xmp_text(EIFFEL).encode() == OLDER  # what it writes has not changed
    assert is_ours(OLDER)
    for foreign in (DIGIKAM, TAGGED, LIGHTROOM, b"", b"\xff\xfe", OLDER[:-1], OLDER + b"\n"):
        assert not is_ours(foreign), foreign


def test_ferrymans_sidecar_is_rewritten_when_the_facts_differ_a_persons_never(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ours, person, link = tmp_path / "a.jpg.xmp", tmp_path / "b.jpg.xmp", tmp_path / "c.jpg.xmp"
    ours.write_bytes(OLDER)
    person.write_bytes(DIGIKAM)
    link.symlink_to(ours)  # never followed: not a sidecar of ferryman's
    assert beside(str(tmp_path / "none.xmp"), LATER, True) == {"already": False}
    assert beside(str(ours), EIFFEL, True) == {"already": True}  # the same facts: left
    assert beside(str(ours), LATER, False) == {"already": True}  # beside another photo
    assert beside(str(ours), LATER, True) == {"refresh": True}
    with caplog.at_level(logging.WARNING, logger="ferryman.sinks.xmp"):
        assert beside(str(person), LATER, True) == {"already": True}
        assert beside(str(link), LATER, True) == {"already": True}
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [str(person), str(link)]

    staged = tmp_path / "stage.xmp"
    write_xmp(str(staged), LATER)
    assert refresh(str(staged), str(ours))
    assert ours.read_bytes() == xmp_text(LATER).encode() and not staged.exists()


def test_a_sidecar_a_person_wrote_since_the_choice_is_left(tmp_path: Path) -> None:
    """Placed after a kill, or a program that wrote it between the choice and the
    move: asked again, it is left, and the staged one goes."""
    target, staged = tmp_path / "a.jpg.xmp", tmp_path / "stage.xmp"
    target.write_bytes(DIGIKAM)
    write_xmp(str(staged), LATER)
    before = os.stat(target)
    assert not refresh(str(staged), str(target))
    assert target.read_bytes() == DIGIKAM and os.stat(target).st_ino == before.st_ino
    assert not staged.exists()
