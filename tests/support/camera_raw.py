"""Minimal but structurally real camera RAW files, as each make lays out its first bytes:
a TIFF header and IFD0 with its Make tag (NEF, ARW, PEF, DNG with its version tag, 3FR),
Canon's CR2 mark after the TIFF header, CR3's ISO ``ftyp`` box of brand ``crx ``, and the
formats with signatures of their own (RAF, ORF, RW2, MRW, X3F, CRW, IIQ). Real sample
files are not reachable here; ``shared_raw_samples`` finds any a machine holds."""

from __future__ import annotations

import random
import struct
from pathlib import Path

_SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
_TYPE_ASCII, _TYPE_BYTE, _TYPE_LONG = 2, 1, 4


def _tail(seed: int, size: int = 6000) -> bytes:
    """Sensor data stand-in: bytes no reader takes for anything."""
    return random.Random(seed).randbytes(size)


def tiff_ifd(
    make: str, *, order: str = "<", magic: bytes | None = None, dng: bool = False, at: int = 8
) -> bytes:
    """A TIFF-shaped head: ``magic`` (the header's first 4 bytes, TIFF's by default), IFD0
    at offset ``at`` with NewSubfileType (a reduced preview, as a RAW's IFD0 is), Make,
    and DNGVersion 1.4 when ``dng``; the Make string after the IFD."""
    if magic is None:
        magic = b"II*\x00" if order == "<" else b"MM\x00*"
    make_bytes = make.encode() + b"\x00"
    entries = [(0x00FE, _TYPE_LONG, 1, struct.pack(order + "I", 1))]
    count = 2 + int(dng)
    string_at = at + 2 + 12 * count + 4
    entries.append((0x010F, _TYPE_ASCII, len(make_bytes), struct.pack(order + "I", string_at)))
    if dng:
        entries.append((0xC612, _TYPE_BYTE, 4, bytes([1, 4, 0, 0])))
    head = magic + struct.pack(order + "I", at)
    head += bytes(at - len(head))
    head += struct.pack(order + "H", count)
    for tag, kind, length, value in entries:
        head += struct.pack(order + "HHI", tag, kind, length) + value
    return head + struct.pack(order + "I", 0) + make_bytes


def raw_files(seed: int = 1) -> dict[str, bytes]:
    """One file of each make, by the name a camera gives it."""
    cr2_head = b"II*\x00" + struct.pack("<I", 16) + b"CR\x02\x00" + struct.pack("<I", 0)
    cr2 = cr2_head + tiff_ifd("Canon", at=16)[16:]
    cr3 = (
        struct.pack(">I", 24) + b"ftypcrx " + struct.pack(">I", 1) + b"crx isom"
        + struct.pack(">I", 16) + b"moov" + struct.pack(">I", 8) + b"uuid"
    )  # fmt: skip
    files = {
        "IMG_0101.CR2": cr2,
        "IMG_0102.CR3": cr3,
        "DSC_0103.NEF": tiff_ifd("NIKON CORPORATION"),
        "DSC00104.ARW": tiff_ifd("SONY"),
        "IMGP0105.PEF": tiff_ifd("PENTAX Corporation", order=">"),
        "IMG_0106.DNG": tiff_ifd("Apple", dng=True),
        "B0000107.3FR": tiff_ifd("Hasselblad"),
        "DSCF0108.RAF": b"FUJIFILMCCD-RAW 0201FF383501" + b"X-T3" + bytes(60),
        "P0109.ORF": tiff_ifd("OLYMPUS IMAGING CORP.", magic=b"IIRO"),
        "P1000110.RW2": tiff_ifd("Panasonic", magic=b"IIU\x00"),
        "PICT0111.MRW": b"\x00MRM" + struct.pack(">I", 200) + b"\x00PRD" + bytes(24),
        "SDIM0112.X3F": b"FOVb" + struct.pack("<I", 0x00020003) + bytes(32),
        "CRW_0113.CRW": b"II" + struct.pack("<I", 26) + b"HEAPCCDR" + bytes(16),
        "CF000114.IIQ": b"II*\x00" + struct.pack("<I", 8) + b"IIII" + bytes(40),
    }
    return {name: head + _tail(seed + n) for n, (name, head) in enumerate(files.items())}


def sidecar_files() -> dict[str, bytes]:
    """A Lightroom edit's XMP and an iPhone edit's AAE (a property list), as written."""
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
        '02/22-rdf-syntax-ns#"><rdf:Description xmlns:crs="http://ns.adobe.com/camera-raw-'
        'settings/1.0/" crs:Exposure2012="+0.35"/></rdf:RDF></x:xmpmeta>\n'
    )
    aae = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST'
        ' 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">'
        "<dict><key>adjustmentFormatIdentifier</key><string>com.apple.photo</string>"
        "</dict></plist>\n"
    )
    return {"IMG_0101.xmp": xmp.encode(), "IMG_0201.AAE": aae.encode()}


def shared_raw_samples() -> list[Path]:
    """Real RAW sample files the machine holds beside the project (``shared/fixtures``),
    if any: every suffix a RAW has."""
    from ferryman.media.camera_files import RAW_SUFFIXES

    if not _SHARED.is_dir():
        return []
    return sorted(p for p in _SHARED.rglob("*") if p.is_file() and p.suffix.lower() in RAW_SUFFIXES)
