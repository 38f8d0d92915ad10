"""Which formats 7zz reads where libarchive cannot, and which it lists alike: the
tables ``archive.opener`` chooses a backend by.
"""

from __future__ import annotations

# Formats 7zz reads when libarchive cannot open them at all.
SEVEN_READS_TOO = frozenset({"sfx", "lha", "iso9660", "cab", "rpm", "cpio", "wim", "xar", "7z"})
# Formats 7zz reads better, when it is there: libarchive 3.6 fails the CRC of LHA
# entries other tools write.
SEVEN_FIRST = frozenset({"lha"})
# Formats whose entries 7zz lists as libarchive does, so that an entry libarchive fails
# before its first byte (its decoder gives up, or runs out of its box's memory) can be
# read by 7zz, with the rest: zip and RAR besides the formats above (not ISO: 7zz hands
# out zisofs files still compressed; not tar or a compressed stream, which 7zz lists
# as one layer: ``x.tar`` for ``x.tar.gz``).
SEVEN_DECODES = (SEVEN_READS_TOO - {"iso9660"}) | {"zip", "rar"}
# Formats 7zz reads too, but which it lists as another layer (``x.tar`` for ``x.tar.Z``):
# handed to 7zz only when it tests the whole archive clean (libarchive 3.6.2 refuses a
# pax header over 1 MiB, "Special header too large", that 7-Zip and newer libarchive
# read). Failed at the first entry, the layer is read as a nested archive; failed
# later, the tar is unpacked and 7zz reads on from the same entry (``sevenzip.layer``).
SEVEN_IF_CLEAN = frozenset({"tar", "compress", "gzip", "bzip2", "xz", "zstd", "lzma"})
# Formats whose archive libarchive cannot read from its first entry on (a zip whose
# central directory's offset is wrong: "Damaged Zip archive") go to 7zz too; if 7zz
# cannot list it either, libarchive's error stands.
SEVEN_TRIES = frozenset({"zip", "rar"})
# Of those, libarchive cannot read these at all: never handed back to it.
SEVEN_ONLY = frozenset({"wim"})


def plain_name(name: str) -> str:
    """A tar member's name as both backends mean it (``./a`` is ``a``)."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))
