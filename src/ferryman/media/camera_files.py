"""A camera's and a phone's own files besides photos and videos: RAW pictures and sidecars.

A RAW file is the camera's original; no viewer ferryman sends to shows it, and Pillow
reads only the small preview inside a TIFF-based one. So a RAW is a file kept as it is
(a library keeps every file; Telegram and links take it as a document when asked),
never a photo to fit. It is known by its bytes where its format has a signature
(Canon's CR2, CR3 and CRW, Fujifilm's RAF, Olympus's ORF, Panasonic's RW2, Minolta's
MRW, Sigma's X3F, a DNG's version tag, a TIFF whose maker is a camera's and whose name
is not a TIFF's), else by its name. Sidecars (an edit's XMP, Apple's AAE, a camera's
THM preview and LRV proxy) are known by name: their content is a text, a JPEG or an
MP4 that would otherwise be sent as one more photo or video.
"""

from __future__ import annotations

import struct

# Every common make's RAW suffixes (lower case, with the dot).
RAW_SUFFIXES = frozenset(
    {
        ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".sr2", ".srf", ".raf",
        ".orf", ".rw2", ".rwl", ".pef", ".srw", ".mrw", ".x3f", ".iiq", ".3fr", ".fff",
        ".erf", ".kdc", ".dcr", ".dcs", ".mef", ".mos", ".gpr", ".raw", ".rwz", ".mdc",
        ".bay", ".cap", ".eip", ".ari", ".k25", ".braw", ".r3d", ".crm",
    }
)  # fmt: skip
# A camera's own photos and clips whose names Python's ``mimetypes`` does not know (nor
# the system's mime.types): a 3D camera's MPO and JPS, Insta360's INSP and INSV, GoPro
# MAX's 360, DJI's OSV, a camcorder's AVCHD (MTS, M2TS), MOD, TOD and VOB, a pro
# camera's MXF. Known by name wherever files are chosen by name (a folder watch).
CAMERA_MEDIA_SUFFIXES = frozenset(
    {
        ".mpo", ".jps", ".insp", ".insv", ".360", ".osv", ".mts", ".m2ts", ".m2t",
        ".mod", ".tod", ".vob", ".mxf",
    }
)  # fmt: skip
# Files beside a photo or a clip that belong to it: kept with it, never sent as media.
SIDECAR_SUFFIXES = frozenset(
    {".xmp", ".aae", ".thm", ".lrv", ".lrf", ".dop", ".pp3", ".cos", ".on1", ".exif"}
)
_TIFF_SUFFIXES = frozenset({".tif", ".tiff"})
# Makers whose TIFF-shaped file is a RAW (the Make tag's first word, upper case).
_CAMERA_MAKERS = frozenset(
    {
        "CANON", "NIKON", "SONY", "PENTAX", "RICOH", "SAMSUNG", "OLYMPUS", "OM", "PANASONIC",
        "LEICA", "FUJIFILM", "MINOLTA", "KONICA", "HASSELBLAD", "PHASE", "LEAF", "MAMIYA",
        "KODAK", "EASTMAN", "EPSON", "SIGMA", "GOPRO", "DJI", "XIAOMI",
    }
)  # fmt: skip
_MAKE_TAG = 0x010F
_DNG_VERSION_TAG = 0xC612
_IFD_ENTRIES_READ = 64  # IFD0 of a RAW holds a few dozen tags; more is not a RAW's


def camera_raw(head: bytes, suffix: str) -> bool:
    """Whether ``head`` (a file's first bytes) is a camera's RAW picture; ``suffix`` (the
    name's, lower case) decides a TIFF-shaped file whose bytes say no camera."""
    if _raw_signature(head):
        return True
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_raw(head, suffix)
    return False


def is_raw(head: bytes, name: str) -> bool:
    """Whether the file ``name`` whose first bytes are ``head`` is a RAW picture, by its
    bytes or, where no signature is known (a cinema camera's), by its name alone."""
    suffix = name_suffix(name)
    return suffix in RAW_SUFFIXES or camera_raw(head, suffix)


def name_suffix(name: str) -> str:
    """A path's last name's suffix, lower case with its dot ("" for none)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return base[dot:].lower() if dot > 0 else ""


def sidecar(suffix: str) -> bool:
    """Whether a file of this name's ``suffix`` is a photo's or a clip's sidecar."""
    return suffix in SIDECAR_SUFFIXES


def _raw_signature(head: bytes) -> bool:
    """The RAW formats with a signature of their own."""
    return (
        head[:15] == b"FUJIFILMCCD-RAW"  # RAF
        or head[:4] in (b"IIRO", b"IIRS", b"MMOR")  # ORF
        or head[:4] == b"IIU\x00"  # RW2, RWL (Panasonic, Leica)
        or head[:4] == b"\x00MRM"  # MRW (Minolta)
        or head[:4] == b"FOVb"  # X3F (Sigma)
        or head[6:14] == b"HEAPCCDR"  # CRW (Canon)
        or (head[:4] == b"II*\x00" and head[8:10] == b"CR")  # CR2 (Canon)
        or (head[4:12] == b"ftypcrx ")  # CR3 (Canon)
    )


def _tiff_raw(head: bytes, suffix: str) -> bool:
    """A TIFF-shaped file: a DNG (its version tag), or a camera's RAW (its maker a
    camera's, its name not a TIFF's, or a RAW's)."""
    if suffix in RAW_SUFFIXES or b"IIII" in head[4:32] or b"MMMM" in head[4:32]:
        return True  # the name, or Phase One's IIQ mark
    tags = _ifd0(head)
    if _DNG_VERSION_TAG in tags:
        return True
    make = tags.get(_MAKE_TAG, b"").split(b"\x00", 1)[0].strip().upper()
    maker = make.split(b" ", 1)[0].decode("ascii", "replace")
    return maker in _CAMERA_MAKERS and suffix not in _TIFF_SUFFIXES


def _ifd0(head: bytes) -> dict[int, bytes]:
    """IFD0's tags seen in ``head``: each tag's ASCII value where the head holds it,
    else empty bytes (its presence is what counts)."""
    order = "<" if head[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack_from(order + "I", head, 4)
        (count,) = struct.unpack_from(order + "H", head, offset)
    except struct.error:
        return {}
    tags: dict[int, bytes] = {}
    for n in range(min(count, _IFD_ENTRIES_READ)):
        at = offset + 2 + 12 * n
        try:
            tag, kind, length = struct.unpack_from(order + "HHI", head, at)
        except struct.error:
            break
        value = b""
        if kind == 2:  # ASCII: in place up to 4 bytes, else at its offset
            if length <= 4:
                value = head[at + 8 : at + 8 + length]
            else:
                (where,) = struct.unpack_from(order + "I", head, at + 8)
                value = head[where : where + min(length, 64)]
        tags[tag] = value
    return tags
