"""Text subtitles (SRT, ASS/SSA, WebVTT) as MP4's own kind, ``mov_text`` (3GPP timed text).

PyAV cannot encode subtitles (FFmpeg's subtitle encoders need an ASS header PyAV does
not set) and a stream made without an encoder has no sample description, which players
need. So the stream is copied from a template: an empty MP4 with one ``tx3g`` track,
built here in bytes, whose sample description is FFmpeg's own default (white text,
centred at the bottom). A cue becomes one sample: its text's length, then the text.
Styling (italics, colours, positions) is dropped; the words and their times are kept.
"""

from __future__ import annotations

import io
import re
import struct

import av
from av.container import InputContainer

# FFmpeg's mov_text encoder's default sample description (libavcodec/movtextenc.c).
_SAMPLE_DESCRIPTION = bytes.fromhex(
    "00000000"  # display flags
    "01ff"  # centred, at the bottom
    "00000000"  # background colour
    "0000000000000000"  # text box
    "00000000000100" + "12ffffffff"  # style: font 1, size 18, white
    "00000012" + b"ftab".hex() + "000100010553657269" + b"f".hex()  # font 1: "Serif"
)
_TIMESCALE = 1000

_ASS_OVERRIDE = re.compile(r"\{[^}]*\}")
_MARKUP = re.compile(r"<[^>]*>")


def _box(kind: bytes, *content: bytes) -> bytes:
    body = b"".join(content)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version_flags: int, *content: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version_flags), *content)


def _template_mp4() -> bytes:
    """An MP4 with one empty timed-text track: all a stream template needs."""
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _full_box(
        b"mvhd", 0, struct.pack(">IIIIIH10x", 0, 0, _TIMESCALE, 0, 0x10000, 0x100), matrix,
        bytes(24), struct.pack(">I", 2),
    )  # fmt: skip
    tkhd = _full_box(
        b"tkhd", 3, struct.pack(">IIIII8xHHH2x", 0, 0, 1, 0, 0, 0, 0, 0), matrix,
        struct.pack(">II", 0, 0),
    )  # fmt: skip
    mdhd = _full_box(b"mdhd", 0, struct.pack(">IIIIHH", 0, 0, _TIMESCALE, 0, 0x55C4, 0))  # und
    hdlr = _full_box(b"hdlr", 0, b"\0\0\0\0sbtl", bytes(12), b"SubtitleHandler\0")
    tx3g = _box(b"tx3g", bytes(6), struct.pack(">H", 1), _SAMPLE_DESCRIPTION)
    empty = struct.pack(">I", 0)
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, struct.pack(">I", 1), tx3g),
        _full_box(b"stts", 0, empty),
        _full_box(b"stsc", 0, empty),
        _full_box(b"stsz", 0, empty, empty),
        _full_box(b"stco", 0, empty),
    )
    dinf = _box(b"dinf", _full_box(b"dref", 0, struct.pack(">I", 1), _full_box(b"url ", 1)))
    minf = _box(b"minf", _full_box(b"nmhd", 0), dinf, stbl)
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso2mp41")
    return ftyp + _box(b"moov", mvhd, trak)


def open_template() -> InputContainer:
    """An input whose only stream is a ``mov_text`` stream to copy (close it after use)."""
    return av.open(io.BytesIO(_template_mp4()), "r", format="mp4")


def cue_text(codec: str, data: bytes) -> str:
    """The words of one subtitle packet of ``codec``, markup removed, lines kept."""
    text = data.decode("utf-8", errors="replace")
    if codec in ("ass", "ssa"):  # Matroska's ASS: ReadOrder,Layer,Style,...,Effect,Text
        text = text.split(",", 8)[-1]
        text = text.replace("\\N", "\n").replace("\\n", "\n").replace("\\h", " ")
        text = _ASS_OVERRIDE.sub("", text)
    else:
        text = _MARKUP.sub("", _ASS_OVERRIDE.sub("", text))
    return text.strip().replace("\r\n", "\n")


def sample(text: str) -> bytes:
    """One ``tx3g`` sample: the UTF-8 text's length in 16 bits, then the text."""
    data = text.encode()[:0xFFFF]
    return struct.pack(">H", len(data)) + data
