"""Decide what a file is from its first bytes, so a misnamed file is still handled right.

The name only breaks ties the content cannot settle: a zip that is really an office
document or an app package, an MP4/Matroska/ASF file whose brand says nothing about
whether it holds video, or a camera's sidecar (a THM is a JPEG, an LRV an MP4:
``camera_files``). What no signature here claims is asked of Pillow, and, for an
entry being staged (``classify_entry``), of FFmpeg: any container FFmpeg reads and finds
video in is a video.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Callable

from ferryman.media.camera_files import camera_raw, name_suffix, sidecar
from ferryman.model import MediaKind

HEAD_SIZE = 4096  # how much of the file ``classify`` looks at

Sniffer = Callable[[bytes, str], MediaKind | None]

# Fixed signatures: (offset, magic, kind), checked in order after the structured sniffers.
_MAGICS: tuple[tuple[int, bytes, MediaKind], ...] = (
    (0, b"\xff\xd8\xff", MediaKind.PHOTO),  # JPEG
    (0, b"\x89PNG\r\n\x1a\n", MediaKind.PHOTO),
    (0, b"II*\x00", MediaKind.PHOTO),  # TIFF, little-endian
    (0, b"MM\x00*", MediaKind.PHOTO),  # TIFF, big-endian
    (0, b"II+\x00", MediaKind.PHOTO),  # BigTIFF
    (0, b"qoif", MediaKind.PHOTO),  # QOI
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", MediaKind.PHOTO),  # JPEG 2000 (JP2)
    (0, b"\xffO\xffQ", MediaKind.PHOTO),  # JPEG 2000 codestream (J2K)
    (0, b"DDS |", MediaKind.PHOTO),  # DirectDraw Surface
    (0, b"icns", MediaKind.PHOTO),  # Apple icon
    (0, b"\xff\x0a", MediaKind.PHOTO),  # JPEG XL codestream
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", MediaKind.PHOTO),  # JPEG XL container
    (0, b"\x1a\x45\xdf\xa3", MediaKind.VIDEO),  # Matroska / WebM (audio-only: by name)
    (0, b"\x00\x00\x01\xba", MediaKind.VIDEO),  # MPEG program stream
    (0, b"\x00\x00\x01\xb3", MediaKind.VIDEO),  # MPEG-1/2 video elementary stream
    (0, b"FLV\x01", MediaKind.VIDEO),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", MediaKind.VIDEO),  # ASF (WMV; WMA by name)
    (0, b"fLaC", MediaKind.AUDIO),
    (0, b"ID3", MediaKind.AUDIO),  # ID3v2 tag: MP3 (or AAC/FLAC behind a tag)
    (0, b"#!AMR", MediaKind.AUDIO),
    (0, b"PK\x03\x04", MediaKind.ARCHIVE),  # zip (documents and packages: see _by_name)
    (0, b"PK\x05\x06", MediaKind.ARCHIVE),  # empty zip
    (0, b"Rar!\x1a\x07", MediaKind.ARCHIVE),  # RAR 4 and 5
    (0, b"7z\xbc\xaf\x27\x1c", MediaKind.ARCHIVE),
    (0, b"\x1f\x8b", MediaKind.ARCHIVE),  # gzip
    (0, b"\xfd7zXZ\x00", MediaKind.ARCHIVE),  # xz
    (0, b"\x28\xb5\x2f\xfd", MediaKind.ARCHIVE),  # zstd
    (0, b"LZIP", MediaKind.ARCHIVE),
    (0, b"MSCF", MediaKind.ARCHIVE),  # cab
    (257, b"ustar", MediaKind.ARCHIVE),  # tar (POSIX and GNU)
    (0, b"%PDF-", MediaKind.DOCUMENT),
)

# Names that turn an ambiguous container into a specific kind.
_ZIP_DOCUMENT_SUFFIXES = frozenset(
    {
        ".docx", ".docm", ".xlsx", ".xlsm", ".pptx", ".pptm", ".vsdx",
        ".odt", ".ods", ".odp", ".odg", ".epub",
        ".apk", ".aab", ".xapk", ".ipa", ".jar", ".war", ".aar", ".xpi",
    }
)  # fmt: skip
# First zip entries that only packages and documents start with.
_ZIP_DOCUMENT_ENTRIES = (b"mimetype", b"[Content_Types].xml", b"META-INF/", b"AndroidManifest.xml")
_AUDIO_ONLY_SUFFIXES = frozenset({".m4a", ".m4b", ".m4p", ".mka", ".weba", ".wma", ".opus"})

# ISO base media (ftyp) brands.
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
)
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})

_TS_PACKET = 188
_WEBP_ANIMATION_FLAG = 0x02  # in the VP8X chunk's flags byte


def classify(head: bytes, name: str) -> MediaKind:
    """What ``head`` (a file's first bytes, up to ``HEAD_SIZE``) is; ``name`` breaks ties.
    A camera's RAW or a sidecar is a document: a file kept as it is, not media."""
    if head[:3] == b"\xff\xd8\xff" and not sidecar(_suffix(name)):  # JPEG, the commonest
        return MediaKind.PHOTO
    head = head[:HEAD_SIZE]
    suffix = _suffix(name)
    if camera_raw(head, suffix) or sidecar(suffix):
        return MediaKind.DOCUMENT  # a camera's file kept as it is (``camera_files``)
    for sniff in _SNIFFERS:
        kind = sniff(head, suffix)
        if kind is not None:
            return kind
    for offset, magic, kind in _MAGICS:
        if head[offset : offset + len(magic)] == magic:
            return _by_name(kind, magic, head, suffix)
    if b"%PDF-" in head[:1024]:  # readers accept a little junk before the header
        return MediaKind.DOCUMENT
    if _mpeg_audio(head):
        return MediaKind.AUDIO
    if _XBM.match(head) or head.startswith(b"/* XPM */"):
        return MediaKind.PHOTO  # X bitmaps and pixmaps: text, but pictures
    if _is_text(head):
        return MediaKind.DOCUMENT
    return _pillow_kind(head)


def classify_entry(
    head: bytes, name: str, ask: Callable[[bytes], MediaKind] | None = None
) -> MediaKind:
    """``classify``, and what it leaves as other asked of FFmpeg (``ffmpeg_kind``): for
    an entry being staged, off the event loop (FFmpeg reads the head for a few ms, and
    PyAV's first import takes longer), where ``classify`` answers on any thread.
    ``ask``: where FFmpeg's look runs (the engine's decoding box: a head that declares
    gigabytes of tables is untrusted bytes like any other); None: here."""
    kind = classify(head, name)
    if kind is not MediaKind.OTHER:
        return kind
    return (ask or ffmpeg_kind)(head[:HEAD_SIZE])


# Raster formats Pillow identifies by a strong signature and decodes by itself; the
# rest of its readers want a helper (EPS: Ghostscript; FITS, GRIB, HDF5, BUFR: handlers)
# or accept too much by shape alone (TGA, PCX, SPIDER: see ``_by_suffix_image``).
_PILLOW_PICTURES = frozenset(
    {"BLP", "CUR", "DCX", "FLI", "FTEX", "GBR", "IM", "MSP", "PCD", "PIXAR", "PSD", "SUN"}
)
_XBM = re.compile(rb"\A\s*#define[ \t]+\S*_width[ \t]+\d+\s*#define[ \t]+\S*_height[ \t]+\d+")


def _pillow_kind(head: bytes) -> MediaKind:
    """What no signature here claimed: a picture if Pillow recognises one of the formats
    above from the head (its header only; nothing is decoded), else other."""

    from PIL import Image  # only for the files nothing else claimed: imported late

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(head), formats=sorted(_PILLOW_PICTURES)) as image:
                fmt = image.format
    except Exception:  # any reader's complaint means "not one of these"
        return MediaKind.OTHER
    return MediaKind.PHOTO if fmt in _PILLOW_PICTURES else MediaKind.OTHER


def ffmpeg_kind(head: bytes) -> MediaKind:
    """What nothing above claimed: a video if FFmpeg reads the head as a container and
    finds a video stream in it (a camcorder's DV, and whatever else FFmpeg reads: no
    list of names here to fall behind), else other. Only the head, from memory: no
    file is opened, and the stream analysis is not given time to decode much."""
    import av  # lazy: PyAV, only for what no signature claimed (probe's docstring)
    from av.stream import Disposition

    try:
        with av.open(io.BytesIO(head), "r", options={"analyzeduration": "0"}) as container:
            found = any(
                not stream.disposition & Disposition.attached_pic
                for stream in container.streams.video
            )
    except (av.FFmpegError, OSError, ValueError, EOFError):
        return MediaKind.OTHER
    return MediaKind.VIDEO if found else MediaKind.OTHER


_suffix = name_suffix


def _by_name(kind: MediaKind, magic: bytes, head: bytes, suffix: str) -> MediaKind:
    """Settle the signatures whose content cannot say enough on its own."""
    if magic == b"PK\x03\x04" and _zip_is_document(head, suffix):
        return MediaKind.DOCUMENT
    if kind is MediaKind.VIDEO and suffix in _AUDIO_ONLY_SUFFIXES:
        return MediaKind.AUDIO
    return kind


def _zip_is_document(head: bytes, suffix: str) -> bool:
    """Office files, EPUBs and app packages are zips; their name or first entry tells."""
    if suffix in _ZIP_DOCUMENT_SUFFIXES:
        return True
    if len(head) < 30:
        return False
    (name_len,) = struct.unpack_from("<H", head, 26)
    return head[30 : 30 + name_len].startswith(_ZIP_DOCUMENT_ENTRIES)


def _gif(head: bytes, suffix: str) -> MediaKind | None:
    """GIF: an animation if the head shows a loop extension or a second frame."""
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    if b"NETSCAPE2.0" in head or b"ANIMEXTS1.0" in head or _gif_frames(head) > 1:
        return MediaKind.ANIMATION
    return MediaKind.PHOTO


def _gif_frames(head: bytes) -> int:
    """Count image descriptors visible in ``head`` by walking the GIF block structure."""
    if len(head) < 13:
        return 0
    pos = 13
    if head[10] & 0x80:  # global colour table
        pos += 3 << ((head[10] & 0x07) + 1)
    frames = 0
    while pos < len(head):
        block = head[pos]
        if block == 0x2C:  # image descriptor
            frames += 1
            if frames > 1 or pos + 10 > len(head):
                return frames
            flags = head[pos + 9]
            pos += 10
            if flags & 0x80:  # local colour table
                pos += 3 << ((flags & 0x07) + 1)
            pos += 1  # LZW minimum code size
        elif block == 0x21:  # extension: introducer, label, then sub-blocks
            pos += 2
        else:  # trailer or garbage
            return frames
        pos = _skip_sub_blocks(head, pos)
    return frames


def _skip_sub_blocks(head: bytes, pos: int) -> int:
    while pos < len(head):
        size = head[pos]
        pos += 1 + size
        if size == 0:
            break
    return pos


def _riff(head: bytes, suffix: str) -> MediaKind | None:
    if head[:4] not in (b"RIFF", b"RF64", b"BW64"):
        return None
    form = head[8:12]
    if form == b"WEBP":
        animated = b"ANIM" in head or (
            head[12:16] == b"VP8X" and len(head) > 20 and head[20] & _WEBP_ANIMATION_FLAG
        )
        return MediaKind.ANIMATION if animated else MediaKind.PHOTO
    if form == b"WAVE":
        return MediaKind.AUDIO
    if form in (b"AVI ", b"AVIX", b"AMV "):
        return MediaKind.VIDEO
    return None


def _aiff(head: bytes, suffix: str) -> MediaKind | None:
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return MediaKind.AUDIO
    return None


def _iso_bmff(head: bytes, suffix: str) -> MediaKind | None:
    """MP4/MOV/3GP/M4A/HEIF: decided by the ftyp brands, then handler types, then name."""
    if head[4:8] != b"ftyp":
        return _by_handlers(head, suffix) if _quicktime_atoms(head) else None
    (size,) = struct.unpack_from(">I", head, 0)
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major in _HEIF_BRANDS or (brands & _HEIF_BRANDS and not brands & {b"isom", b"qt  "}):
        return MediaKind.PHOTO
    if major in _AUDIO_BRANDS:
        return MediaKind.AUDIO
    return _by_handlers(head, suffix)


def _quicktime_atoms(head: bytes) -> bool:
    """Old QuickTime files start with moov/mdat/free… instead of ftyp; check the atom chain."""
    if len(head) < 8 or head[4:8] not in _QUICKTIME_ATOMS or _is_text(head):
        return False
    (size,) = struct.unpack_from(">I", head, 0)
    if size == 1 or (size == 0 and head[4:8] == b"mdat"):  # 64-bit size / up to the end
        return True
    if size < 8:
        return False
    return size + 8 > len(head) or head[size + 4 : size + 8] in _QUICKTIME_ATOMS | {b"uuid"}


def _by_handlers(head: bytes, suffix: str) -> MediaKind:
    """With the index (moov) at the front, its handler types show whether there is video."""
    handlers = set()
    pos = head.find(b"hdlr")
    while pos != -1:
        handlers.add(head[pos + 12 : pos + 16])
        pos = head.find(b"hdlr", pos + 4)
    if b"vide" in handlers:
        return MediaKind.VIDEO
    if b"soun" in handlers or suffix in _AUDIO_ONLY_SUFFIXES:
        return MediaKind.AUDIO
    return MediaKind.VIDEO


def _ogg(head: bytes, suffix: str) -> MediaKind | None:
    if head[:4] != b"OggS":
        return None
    if any(sig in head for sig in (b"\x80theora", b"OVP80", b"BBCD\x00", b"\x80daala")):
        return MediaKind.VIDEO
    return MediaKind.VIDEO if suffix == ".ogv" else MediaKind.AUDIO


def _mpeg_ts(head: bytes, suffix: str) -> MediaKind | None:
    """MPEG-TS (sync byte every 188 bytes) or M2TS (every 192, after a 4-byte prefix)."""
    for start, step in ((0, _TS_PACKET), (4, _TS_PACKET + 4)):
        syncs = [head[i] for i in range(start, min(len(head), start + 3 * step), step)]
        if len(syncs) >= 2 and all(b == 0x47 for b in syncs):
            return MediaKind.VIDEO
    return None


def _bmp(head: bytes, suffix: str) -> MediaKind | None:
    """'BM' alone is too weak; require a known DIB header size too."""
    if head[:2] != b"BM" or len(head) < 18:
        return None
    (dib_size,) = struct.unpack_from("<I", head, 14)
    return MediaKind.PHOTO if dib_size in (12, 40, 52, 56, 64, 108, 124) else None


def _ico(head: bytes, suffix: str) -> MediaKind | None:
    """Windows icon or cursor: a reserved zero, type 1 or 2, and a sane first entry."""
    if head[:2] != b"\x00\x00" or head[2:4] not in (b"\x01\x00", b"\x02\x00") or len(head) < 22:
        return None
    count, reserved, bits = struct.unpack_from("<H", head, 4)[0], head[9], head[12]
    offset = struct.unpack_from("<I", head, 18)[0]
    if 0 < count <= 256 and reserved == 0 and bits in (0, 1, 4, 8, 16, 24, 32):
        return MediaKind.PHOTO if offset >= 6 + 16 * count else None
    return None


# PBM/PGM/PPM (P1-P6) and PFM (Pf): magic, then width and height, comments allowed.
_NETPBM = re.compile(rb"\AP[1-6f](?:\s|#[^\n]*\n)+\d+(?:\s|#[^\n]*\n)+\d+\s")


def _netpbm(head: bytes, suffix: str) -> MediaKind | None:
    return MediaKind.PHOTO if _NETPBM.match(head) else None


def _sgi(head: bytes, suffix: str) -> MediaKind | None:
    """SGI image: magic 474, RLE flag, bytes per channel, dimension count."""
    if head[:2] == b"\x01\xda" and len(head) > 5 and head[2] in (0, 1) and head[3] in (1, 2):
        return MediaKind.PHOTO if head[5] in (1, 2, 3) else None
    return None


_TGA_SUFFIXES = frozenset({".tga", ".icb", ".vda", ".vst", ".tpic"})
_PCX_SUFFIXES = frozenset({".pcx", ".dcx"})


def _by_suffix_image(head: bytes, suffix: str) -> MediaKind | None:
    """TGA has no magic and PCX a weak one: the name must agree with a sane header."""
    if suffix in _TGA_SUFFIXES and len(head) >= 18:
        colour_map, image_type, depth = head[1], head[2], head[16]
        if colour_map in (0, 1) and image_type in (1, 2, 3, 9, 10, 11):
            return MediaKind.PHOTO if depth in (1, 8, 15, 16, 24, 32) else None
    pcx = len(head) >= 4 and head[0] == 0x0A and head[1] <= 5 and head[2] <= 1
    if suffix in _PCX_SUFFIXES and pcx and head[3] in (1, 2, 4, 8):
        return MediaKind.PHOTO
    return None


def _bzip2(head: bytes, suffix: str) -> MediaKind | None:
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[3:4] != b"0":
        return MediaKind.ARCHIVE
    return None


def _adts(head: bytes, suffix: str) -> MediaKind | None:
    """AAC ADTS: 12 sync bits, layer 0; the frame length must lead to the next header."""
    if not _adts_header(head, 0):
        return None
    length = ((head[3] & 0x03) << 11) | (head[4] << 3) | (head[5] >> 5)
    if length < 7:
        return None
    return MediaKind.AUDIO if _next_frame_ok(head, length, _adts_header) else None


def _adts_header(head: bytes, pos: int) -> bool:
    return (
        len(head) >= pos + 7
        and head[pos] == 0xFF
        and head[pos + 1] & 0xF6 == 0xF0
        and (head[pos + 2] >> 2) & 0x0F < 13  # sampling frequency index
    )


# MPEG audio bitrates (kbit/s) by (version is MPEG-1, layer); index 0 (free) and 15 are invalid.
_MPA_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPA_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpa_frame_length(head: bytes, pos: int) -> int | None:
    """Length of the MPEG audio frame at ``pos``, or None if no valid header is there."""
    if len(head) < pos + 4 or head[pos] != 0xFF or head[pos + 1] & 0xE0 != 0xE0:
        return None
    version = (head[pos + 1] >> 3) & 0x03  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = 4 - ((head[pos + 1] >> 1) & 0x03)  # 4 means reserved
    bitrate_index = head[pos + 2] >> 4
    rate_index = (head[pos + 2] >> 2) & 0x03
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MPA_BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _MPA_RATES[version][rate_index]
    padding = (head[pos + 2] >> 1) & 0x01
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    per_frame = 144 if layer == 2 or mpeg1 else 72
    return per_frame * bitrate // rate + padding


def _mpeg_audio(head: bytes) -> bool:
    """MP3/MP2 without a tag: a frame header whose length leads to a second one."""
    length = _mpa_frame_length(head, 0)
    if length is None:
        return False
    return _next_frame_ok(head, length, lambda h, pos: _mpa_frame_length(h, pos) is not None)


def _next_frame_ok(head: bytes, pos: int, header_at: Callable[[bytes, int], bool]) -> bool:
    """A second frame header must follow the first, unless it lies past a full-size head."""
    if pos + 7 > len(head):
        return len(head) >= HEAD_SIZE
    return header_at(head, pos)


def _is_text(head: bytes) -> bool:
    """Valid UTF-8 (or UTF-16 with a BOM) without NULs; a character cut at the end is fine."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            head[: len(head) // 2 * 2].decode("utf-16")
        except UnicodeDecodeError:
            return False
        return True
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data" and exc.start >= len(head) - 3
    return True


# Structured sniffers, most specific first; each returns None if the format is not its own.
_SNIFFERS: tuple[Sniffer, ...] = (
    _gif,
    _riff,
    _aiff,
    _iso_bmff,
    _ogg,
    _mpeg_ts,
    _bmp,
    _bzip2,
    _adts,
    _ico,
    _netpbm,
    _sgi,
    _by_suffix_image,
)
