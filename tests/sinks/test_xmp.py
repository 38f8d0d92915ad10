"""The XMP sidecar a library writes beside a Takeout's photo (issue 81, item 3): any
description (a person's text: markup, quotes, controls, any script) and any place give
XML that reads back to the same values; southern, western and below-sea-level places
keep their signs."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.model import MediaInfo
from ferryman.sinks.xmp import coordinate_degrees, wanted, write_xmp, xmp_name, xmp_text

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
}
TOTAL = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def read(text: str) -> tuple[dict[str, str], str | None]:
    root = ET.fromstring(text.split("\n", 1)[1].rsplit("<?xpacket", 1)[0])
    description = root.find(".//rdf:Description", NS)
    assert description is not None
    said = {key.rpartition("}")[2]: value for key, value in description.attrib.items()}
    return said, description.findtext(".//dc:description/rdf:Alt/rdf:li", namespaces=NS)


def xml_text(text: str) -> str:
    """What XML 1.0 can hold of ``text``, as the writer keeps it."""
    return "".join(
        c
        for c in text
        if c in "\t\n\r" or "\x20" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c > "\uffff"
    )


@TOTAL
@given(
    st.text(max_size=200),
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.one_of(st.none(), st.floats(-500, 9000)),
    st.floats(86_400, 4_102_444_800),
)
def test_any_description_and_place_read_back(
    description: str, lat: float, lon: float, alt: float | None, taken: float
) -> None:
    media = MediaInfo(
        taken=taken, latitude=lat, longitude=lon, altitude=alt, description=description or None
    )
    said, text = read(xmp_text(media))
    assert coordinate_degrees(said["GPSLatitude"]) == pytest.approx(lat, abs=1e-6)
    assert coordinate_degrees(said["GPSLongitude"]) == pytest.approx(lon, abs=1e-6)
    if alt is not None:
        num, den = said["GPSAltitude"].split("/")
        assert int(num) / int(den) == pytest.approx(abs(alt), abs=1e-3)
        assert said["GPSAltitudeRef"] == ("1" if alt < 0 else "0")
    assert said["DateTimeOriginal"].endswith("Z")
    # XML reads \r and \r\n as \n: what a reader sees
    expected = xml_text(description).replace("\r\n", "\n").replace("\r", "\n")
    assert (text or "") == (expected if description else "")


def test_a_sidecar_beside_its_photo_never_over_a_file(tmp_path: Path) -> None:
    media = MediaInfo(taken=1546344000.0, latitude=-33.85, longitude=-70.5, description="<b>&")
    assert wanted(media) and not wanted(MediaInfo(taken=1.0)) and not wanted(None)
    target = tmp_path / xmp_name("IMG.jpg")
    write_xmp(str(target), media)
    said, text = read(target.read_text())
    assert said["DateTimeOriginal"] == "2019-01-01T12:00:00Z"
    assert said["GPSLatitude"].endswith("S") and said["GPSLongitude"].endswith("W")
    assert text == "<b>&"
    with pytest.raises(FileExistsError):
        write_xmp(str(target), media)
    assert not math.isnan(coordinate_degrees(said["GPSLatitude"]))
