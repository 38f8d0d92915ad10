"""The legacy-name decoder is total and safe, whatever bytes an archive stores: a str
for any bytes, never an exception, never a separator the bytes did not have, and what
``sanitize_path`` then makes of it never climbs out of the folder it is joined under."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.archive.codepages import ARCHIVE_CODEPAGES
from ferryman.archive.names import sanitize_path
from ferryman.archive.stored_names import NameDecoder, decode_stored_name

# Bytes that look like names: mostly high bytes and separators, some dots (``..``).
_NAME = st.binary(max_size=40) | st.lists(
    st.sampled_from([b"/", b"\\", b".", b"..", b"\x95", b"\xa5", b"\x81", b"\xff", b"a"])
    | st.binary(min_size=1, max_size=3),
    max_size=12,
).map(b"".join)


def _safe(name: str, raw: bytes) -> None:
    assert isinstance(name, str)
    assert name.count("/") <= raw.count(b"/")  # no separator made of another byte
    assert name.count("\\") <= raw.count(b"\\")
    path = sanitize_path(name, 0)
    parts = path.split("/")
    assert path and not path.startswith("/") and "\\" not in path
    assert not {"", ".", ".."} & set(parts)  # zip-slip: nothing climbs
    assert len(parts) <= raw.count(b"/") + raw.count(b"\\") + 1


@settings(max_examples=400, deadline=None)
@given(raw=_NAME, on_disk=st.booleans())
def test_any_bytes_decode_to_a_safe_name(raw: bytes, on_disk: bool) -> None:
    _safe(decode_stored_name(raw, on_disk=on_disk), raw)


@settings(max_examples=150, deadline=None)
@given(names=st.lists(_NAME, min_size=1, max_size=8), streamed=st.booleans())
def test_an_archive_s_names_decode_safely_together(names: list[bytes], streamed: bool) -> None:
    decoder = NameDecoder() if streamed else NameDecoder(names)
    for raw in names:
        _safe(decoder.decode(raw), raw)
    assert decoder.codepage in ARCHIVE_CODEPAGES


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=20))
def test_utf8_names_are_kept_whatever_the_archive_s_code_page(text: str) -> None:
    """A UTF-8 name (macOS's zips without the flag) is never guessed."""
    raw = text.encode("utf-8", "surrogatepass")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # lone surrogates: not UTF-8
    assert NameDecoder([b"\x95\x5c\x8e\x86"]).decode(raw) == text
