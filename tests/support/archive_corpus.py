"""A corpus of odd archives made by real tools, the reference tools as oracle, and
ferryman's reading of each, compared byte for byte.

Shared by ``tests/archive/test_archive_conformance.py`` (a quick subset) and
``bench/conformance.py`` (everything, as a table). Each generator makes archives with
one tool and skips cleanly when the tool is missing; each sample says the format row it
counts in. The oracle is ``bsdtar -x`` (or ``7zz x`` where bsdtar fails); ferryman's
side is what its read stage hands on (``inspect_local`` + ``iter_local``, archives
inside archives opened as ferryman does), every entry read to the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ferryman.archive.names import is_junk
from ferryman.archive.reader import ArchiveLimits, OpenOptions, detect_format, read_through
from ferryman.archive.sevenzip.process import find_7zz
from ferryman.archive.suffixes import named_archive
from ferryman.errors import FerrymanError
from ferryman.sources.base import ReadOptions
from ferryman.sources.local import iter_local
from ferryman.sources.local_path import inspect_local
from tests.support.paths import RAR_FIXTURES

TOOL_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One archive of the corpus: the row it counts in, what made it, its password."""

    row: str  # "zip", "7z", "rar", "tar", "single", "iso", "cab", "cpio", "rpm", ...
    path: Path
    made_by: str
    password: str | None = None
    # For a lone compressed file (no tar inside): the tool's own decompressor, whose
    # standard output is the one file (bsdtar -x extracts only archives).
    decompress: tuple[str, ...] | None = None
    # bsdtar's files count even though it exits non-zero (it warns about a header
    # that lies, but extracts data whose CRC checks out).
    warned_ok: bool = False
    volumes: bool = False  # the first volume of a set: 7zz reads them all, bsdtar one
    # Crafted by hand where the reference tools disagree about a header that lies
    # (bsdtar writes a 4 GiB file, 7zz fails): the contents written are the answer.
    contents: tuple[bytes, ...] | None = None
    # 7zz is no oracle for it: it extracts zisofs files still compressed.
    not_7zz: bool = False
    hostile: bool = False  # made to attack an extractor: a safe reading is the answer


@dataclass(slots=True)
class Outcome:
    """What the oracle and ferryman made of one sample."""

    sample: Sample
    oracle: str | None  # "bsdtar", "7zz" or None (no reference tool reads it)
    expected: set[str] = field(default_factory=set)  # sha256 of each file the oracle wrote
    delivered: set[str] = field(default_factory=set)
    codes: list[str] = field(default_factory=list)  # error codes ferryman ended with
    messages: list[str] = field(default_factory=list)
    crashed: str | None = None  # an exception that is no FerrymanError, or a hang

    @property
    def byte_for_byte(self) -> bool:
        return self.oracle is not None and self.crashed is None and self.expected <= self.delivered

    @property
    def clear_code(self) -> bool:
        """Where no oracle reads it: ferryman ended with a registered code, no crash
        (for a hostile sample, which the oracles refuse: read safely, no crash)."""
        return (
            self.oracle is None
            and self.crashed is None
            and (bool(self.codes) or self.sample.hostile)
            and "engine.internal" not in self.codes
        )

    def describe(self) -> str:
        missing = len(self.expected - self.delivered)
        return (
            f"{self.sample.path.name} ({self.sample.made_by}): oracle={self.oracle}"
            f" missing={missing}/{len(self.expected)} codes={self.codes}"
            f" crashed={self.crashed} {'; '.join(self.messages)[:400]}"
        )


# --------------------------------------------------------------------------- payload


def payload(root: Path, *, compressible_mb: float = 3.0, seed: int = 33) -> Path:
    """The files every archive holds: incompressible and very compressible data, an
    empty file, a unicode name, a nested folder."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "photo.jpg").write_bytes(rng.randbytes(96 * 1024))
    (root / "notes").mkdir(exist_ok=True)
    (root / "notes" / "readme.txt").write_text("ferryman conformance corpus\n" * 40)
    line = b"The quick brown fox jumps over the lazy dog 0123456789.\n"
    (root / "notes" / "big.txt").write_bytes(line * int(compressible_mb * (1 << 20) / len(line)))
    (root / "deep" / "a" / "b").mkdir(parents=True, exist_ok=True)
    (root / "deep" / "a" / "b" / "ünïcødé name.bin").write_bytes(rng.randbytes(5000))
    (root / "empty.dat").write_bytes(b"")
    return root


def sparse_payload(root: Path) -> Path:
    """A folder with one sparse file (holes between small data runs) and a plain one."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    with (root / "disk.img").open("wb") as f:
        for offset in (0, 3 << 20, 9 << 20):
            f.seek(offset)
            f.write(rng.randbytes(10_000))
        f.truncate(16 << 20)
    (root / "plain.txt").write_text("next to a sparse file\n")
    return root


# --------------------------------------------------------------------------- tools


def sevenzip_exe() -> Path | None:
    found = find_7zz(None)
    return found.path if found is not None else None


def _run(args: list[str | Path], cwd: Path | None = None, stdin: bytes | None = None) -> bool:
    try:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _have(tool: str) -> bool:
    return shutil.which(tool) is not None


Generator = Callable[[Path, Path], Iterator[Sample]]


def gen_bsdtar(src: Path, out: Path) -> Iterator[Sample]:
    """bsdtar in each format it writes and each filter it has."""
    if not _have("bsdtar"):
        return
    for fmt in ("ustar", "pax", "gnutar", "v7"):
        dest = out / f"bsdtar-{fmt}.tar"
        if _run(["bsdtar", "-cf", dest, "--format", fmt, "-C", src, "."]):
            yield Sample("tar", dest, f"bsdtar --format {fmt}")
    filters = {
        "gz": "--gzip",
        "bz2": "--bzip2",
        "xz": "--xz",
        "lzma": "--lzma",
        "lz": "--lzip",
        "Z": "--compress",
        "zst": "--zstd",
        "lz4": "--lz4",
        "lzo": "--lzop",
        "lrz": "--lrzip",
        "uu": "--uuencode",
        "b64": "--b64encode",
    }
    for ext, flag in filters.items():
        dest = out / f"bsdtar-pax.tar.{ext}"
        if _run(["bsdtar", "-cf", dest, "--format", "pax", flag, "-C", src, "."]):
            yield Sample("tar", dest, f"bsdtar {flag}")
    for fmt, ext, row in (
        ("cpio", "cpio", "cpio"),
        ("newc", "cpio", "cpio"),
        ("iso9660", "iso", "iso"),
        ("xar", "xar", "xar"),
        ("zip", "zip", "zip"),
        ("7zip", "7z", "7z"),
    ):
        dest = out / f"bsdtar-{fmt}.{ext}"
        if _run(["bsdtar", "-cf", dest, "--format", fmt, "-C", src, "."]):
            yield Sample(row, dest, f"bsdtar --format {fmt}")
    dest = out / "bsdtar-zisofs.iso"
    if _run(["bsdtar", "-cf", dest, "--format", "iso9660", "--options", "zisofs", "-C", src, "."]):
        yield Sample("iso", dest, "bsdtar --format iso9660 --options zisofs", not_7zz=True)


def gen_gnutar(src: Path, out: Path) -> Iterator[Sample]:
    """GNU tar's formats, its sparse formats (old GNU, PAX 0.0/0.1/1.0) and compress."""
    if not _have("tar"):
        return
    sparse = sparse_payload(out / "_sparse_src")
    for fmt in ("gnu", "oldgnu", "posix"):
        dest = out / f"gnutar-{fmt}.tar"
        if _run(["tar", "-cf", dest, f"--format={fmt}", "-C", src, "."]):
            yield Sample("tar", dest, f"tar --format={fmt}")
    variants: list[tuple[str, list[str]]] = [("gnu", ["--format=gnu"])]
    variants += [
        (f"pax{v}", ["--format=posix", f"--sparse-version={v}"]) for v in ("0.0", "0.1", "1.0")
    ]
    for label, flags in variants:
        dest = out / f"gnutar-sparse-{label}.tar"
        if _run(["tar", "-cf", dest, "--sparse", *flags, "-C", sparse, "."]):
            yield Sample("tar", dest, f"tar --sparse {' '.join(flags)}")
    if _have("compress"):
        plain = out / "gnutar-gnu.tar"
        dest = out / "gnutar-gnu.tar.Z"
        if plain.exists() and _run(["sh", "-c", f"compress -c '{plain}' > '{dest}'"]):
            yield Sample("tar", dest, "tar | compress")
        for label, _flags in variants:  # a sparse tar in a .tar.Z, as gtar -S | compress
            plain = out / f"gnutar-sparse-{label}.tar"
            dest = out / f"gnutar-sparse-{label}.tar.Z"
            if plain.exists() and _run(["sh", "-c", f"compress -c '{plain}' > '{dest}'"]):
                yield Sample("tar", dest, f"tar --sparse ({label}) | compress")
        one = out / "single-readme.txt.Z"
        readme = src / "notes" / "readme.txt"
        if _run(["sh", "-c", f"compress -c '{readme}' > '{one}'"]):
            yield Sample("single", one, "compress (one file)", decompress=("compress", "-dc"))
    for tool, ext in (
        ("lzip", "lz"),
        ("lz4", "lz4"),
        ("lzop", "lzo"),
        ("xz", "xz"),
        ("zstd", "zst"),
    ):
        if not _have(tool):
            continue
        one = out / f"single-readme.txt.{ext}"
        readme = src / "notes" / "readme.txt"
        if _run(["sh", "-c", f"{tool} -c '{readme}' > '{one}'"]):
            yield Sample("single", one, f"{tool} (one file)", decompress=(tool, "-dc"))


def gen_large_pax(src: Path, out: Path) -> Iterator[Sample]:
    """pax attributes over 1 MiB (libarchive 3.6 refuses them: "Special header too
    large"; 7-Zip and bsdtar 3.7 read them): on every entry (GNU tar's
    ``--pax-option``), and on one entry in the middle (Python's tarfile), each plain
    and through compress and gzip."""
    made: list[tuple[Path, str]] = []
    value = "+" * 120_000  # ten of them: a 1.2 MB header per entry (argv holds 128 KiB each)
    options = [f"--pax-option=x{n}:={value}" for n in range(10)]
    every = out / "pax-large-every.tar"
    if _have("tar") and _run(["tar", "-cf", every, "--format=pax", *options, "-C", src, "."]):
        made.append((every, "tar --format=pax --pax-option (1.2 MB on every entry)"))
    middle = out / "pax-large-middle.tar"
    with tarfile.open(middle, "w", format=tarfile.PAX_FORMAT) as tar:
        for number, (rel, full) in enumerate(_files(src)):
            info = tar.gettarinfo(str(full), arcname=rel)
            if number == 1:
                info.pax_headers = {"comment": "+" * 2_000_000}
            with full.open("rb") as data:
                tar.addfile(info, data)
    made.append((middle, "tarfile, a 2 MB pax comment on the second entry"))
    for plain, how in made:
        yield Sample("tar", plain, how)
        for tool, ext in (("compress", "Z"), ("gzip", "gz")):
            dest = plain.with_name(f"{plain.name}.{ext}")
            if _have(tool) and _run(["sh", "-c", f"{tool} -c '{plain}' > '{dest}'"]):
                yield Sample("tar", dest, f"{how} | {tool}")


def gen_7zz(src: Path, out: Path) -> Iterator[Sample]:
    """7-Zip: each method, each branch filter, solid or not, encrypted; zip methods."""
    exe = sevenzip_exe()
    if exe is None:
        return
    files = ["photo.jpg", "notes", "deep", "empty.dat"]
    methods = {
        "lzma": ["-m0=LZMA"],
        "lzma2": ["-m0=LZMA2"],
        "ppmd": ["-m0=PPMd"],
        "bzip2": ["-m0=BZip2"],
        "deflate": ["-m0=Deflate"],
        "deflate64": ["-m0=Deflate64"],
        "copy": ["-m0=Copy"],
        "nonsolid": ["-ms=off"],
    }
    for flt in ("BCJ", "BCJ2", "ARM", "ARMT", "ARM64", "RISCV", "SPARC", "PPC", "IA64", "Delta:4"):
        methods[f"f-{flt.replace(':', '')}"] = [f"-mf={flt}"]
    for label, flags in methods.items():
        dest = out / f"7zz-{label}.7z"
        if _run([exe, "a", "-t7z", "-bd", *flags, dest, *files], cwd=src):
            yield Sample("7z", dest, f"7zz a -t7z {' '.join(flags)}")
    dest = out / "7zz-aes-headers.7z"
    if _run([exe, "a", "-t7z", "-bd", "-psecret", "-mhe=on", dest, *files], cwd=src):
        yield Sample("7z", dest, "7zz a -p -mhe=on", password="secret")
    for label, method in (
        ("deflate64", "Deflate64"),
        ("bzip2", "BZip2"),
        ("lzma", "LZMA"),
        ("ppmd", "PPMd"),
        ("xz", "XZ"),
    ):
        dest = out / f"7zz-zip-{label}.zip"
        if _run([exe, "a", "-tzip", "-bd", f"-mm={method}", dest, *files], cwd=src):
            yield Sample("zip", dest, f"7zz a -tzip -mm={method}")
    dest = out / "7zz-zip-aes.zip"
    if _run([exe, "a", "-tzip", "-bd", "-psecret", "-mem=AES256", dest, *files], cwd=src):
        yield Sample("zip", dest, "7zz a -tzip -mem=AES256", password="secret")
    dest = out / "7zz-wim.wim"
    if _run([exe, "a", "-twim", "-bd", dest, *files], cwd=src):
        yield Sample("wim", dest, "7zz a -twim")


def gen_zip(src: Path, out: Path) -> Iterator[Sample]:
    """zip writers: Info-ZIP (streamed with data descriptors, ZIP64), Python's zipfile,
    and hand-made oddities: junk before the first header, a size off by 4 GiB."""
    if _have("zip"):
        dest = out / "infozip.zip"
        if _run(["zip", "-qr", dest, "."], cwd=src):
            yield Sample("zip", dest, "zip -r")
        dest = out / "infozip-zip64.zip"
        if _run(["zip", "-qr", "-fz", dest, "."], cwd=src):
            yield Sample("zip", dest, "zip -fz (ZIP64)")
        dest = out / "infozip-streamed.zip"
        if _run(["sh", "-c", f"zip -qr - . | cat > '{dest}'"], cwd=src):
            yield Sample("zip", dest, "zip -r - | cat (data descriptors)")
    files = _files(src)
    dest = out / "pyzip-descriptors.zip"
    with dest.open("wb") as raw, zipfile.ZipFile(_Unseekable(raw), "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, full in files:
            zf.writestr(rel, full.read_bytes())
    yield Sample("zip", dest, "zipfile to a pipe (data descriptors)")
    dest = out / "pyzip-zip64.zip"
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, full in files:
            with zf.open(rel, "w", force_zip64=True) as w:
                w.write(full.read_bytes())
    yield Sample("zip", dest, "zipfile force_zip64")
    plain = out / "pyzip-plain.zip"
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, full in files:
            zf.writestr(rel, full.read_bytes())
    junk = random.Random(4).randbytes(4096)
    dest = out / "zip-junk-prefix.zip"
    dest.write_bytes(junk + plain.read_bytes())
    yield Sample("zip", dest, "4 KiB of junk before a zip (offsets not adjusted)")
    if _have("zip"):
        dest = out / "zip-junk-prefix-adjusted.zip"
        dest.write_bytes(junk + plain.read_bytes())
        if _run(["zip", "-qA", dest]):
            yield Sample("zip", dest, "junk before a zip, zip -A")
    dest = out / "zip-size-off-4gib.zip"
    dest.write_bytes(_zip_size_off_by_4gib(b"hello", b"five bytes that lie: 4 GiB more"))
    yield Sample("zip", dest, "central directory size + 4 GiB (ZIP64 extra)", warned_ok=True)
    dest = out / "zip-size-off-4gib-descriptor.zip"
    contents = (b"hello", b"size in a data descriptor")
    dest.write_bytes(_zip_size_off_by_4gib(*contents, descriptor=True))
    yield Sample(
        "zip", dest, "size + 4 GiB in the central directory, data descriptors", contents=contents
    )
    dest = out / "zip-size-off-4gib-local-too.zip"
    contents = (b"hello", b"both headers say 4 GiB more")
    dest.write_bytes(_zip_size_off_by_4gib(*contents, local_too=True))
    yield Sample("zip", dest, "size + 4 GiB in both headers' ZIP64 extras", contents=contents)


def gen_iso(src: Path, out: Path) -> Iterator[Sample]:
    """ISO 9660 by genisoimage and xorriso: plain, Joliet, Rock Ridge, zisofs."""
    for tool in ("genisoimage", "xorriso"):
        if not _have(tool):
            continue
        base = [tool] if tool == "genisoimage" else ["xorriso", "-as", "mkisofs"]
        for label, flags in (
            ("plain", []),
            ("joliet", ["-J"]),
            ("rr", ["-R"]),
            ("both", ["-J", "-R"]),
        ):
            dest = out / f"{tool}-{label}.iso"
            if _run([*base, "-quiet", "-o", dest, *flags, src]):
                yield Sample("iso", dest, f"{tool} {' '.join(flags)}")
    image = out / "genisoimage-both.iso"
    compressors = (
        ("gzip", "gz"),
        ("bzip2", "bz2"),
        ("xz", "xz"),
        ("zstd", "zst"),
        ("compress", "Z"),
    )
    for tool, suffix in compressors:
        # A disk image in one compressed stream: the image inside is the archive.
        dest = out / f"{image.name}.{suffix}"
        if image.exists() and _have(tool) and _run(["sh", "-c", f"{tool} -c '{image}' > '{dest}'"]):
            yield Sample("iso", dest, f"genisoimage -J -R | {tool}")
    if _have("mkzftree") and _have("genisoimage"):
        tree = out / "_zftree"
        if _run(["mkzftree", src, tree]):
            dest = out / "genisoimage-zisofs.iso"
            if _run(["genisoimage", "-quiet", "-R", "-z", "-o", dest, tree]):
                yield Sample("iso", dest, "mkzftree + genisoimage -z", not_7zz=True)


def gen_other(src: Path, out: Path) -> Iterator[Sample]:
    """CAB (gcab), cpio (GNU cpio), LHA (jlha), RPM (rpmbuild)."""
    rels = [rel for rel, _ in _files(src)]
    if _have("gcab"):
        for label, flags in (("store", []), ("mszip", ["-z"])):
            dest = out / f"gcab-{label}.cab"
            if _run(["gcab", "-c", *flags, dest, *rels], cwd=src):
                yield Sample("cab", dest, f"gcab -c {' '.join(flags)}")
    if _have("cpio"):
        listing = "\n".join(rels).encode() + b"\n"
        for fmt in ("newc", "odc", "crc", "bin"):
            dest = out / f"cpio-{fmt}.cpio"
            if _run(["sh", "-c", f"cpio --quiet -o -H {fmt} > '{dest}'"], cwd=src, stdin=listing):
                yield Sample("cpio", dest, f"cpio -o -H {fmt}")
    dest = out / "cpio-mode-without-type.cpio"
    dest.write_bytes(_cpio_without_type_bits({"plain.txt": b"a file with mode 0644 only\n"}))
    yield Sample("cpio", dest, "newc cpio whose mode has no file-type bits")
    if _have("lha"):
        for method in ("5", "6", "7"):
            dest = out / f"lha-lh{method}.lzh"
            if _run(["lha", f"aq{'o' + method if method != '5' else ''}", dest, *rels], cwd=src):
                yield Sample("lha", dest, f"lha a (-lh{method}-)")
    if _have("rpmbuild"):
        rpm = _make_rpm(src, out)
        if rpm is not None:
            yield Sample("rpm", rpm, "rpmbuild -bb")


def gen_sfx(src: Path, out: Path) -> Iterator[Sample]:
    """Self-extracting archives: a zip and a 7z after an ELF or a PE (``MZ``) stub."""
    files = _files(src)
    plain = out / "_sfx-inner.zip"
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, full in files:
            zf.writestr(rel, full.read_bytes())
    elf = Path("/bin/true").read_bytes() if Path("/bin/true").exists() else b"\x7fELF" + bytes(60)
    pe = b"MZ" + bytes(58) + struct.pack("<I", 64) + b"PE\x00\x00" + bytes(8000)
    for label, stub in (("elf", elf), ("pe", pe)):
        dest = out / f"sfx-zip-{label}.{'exe' if label == 'pe' else 'bin'}"
        dest.write_bytes(stub + plain.read_bytes())
        if _have("zip"):
            _run(["zip", "-qA", dest])
        yield Sample("sfx", dest, f"zip appended to an {label.upper()} stub")
    exe = sevenzip_exe()
    if exe is not None:
        seven = out / "_sfx-inner.7z"
        if _run([exe, "a", "-t7z", "-bd", seven, "photo.jpg", "notes", "deep"], cwd=src):
            for label, stub in (("elf", elf), ("pe", pe)):
                dest = out / f"sfx-7z-{label}.exe"
                dest.write_bytes(stub + seven.read_bytes())
                yield Sample("sfx", dest, f"7z appended to an {label.upper()} stub")


def gen_broken(src: Path, out: Path) -> Iterator[Sample]:
    """Archives no reference tool reads whole: truncated, garbled, empty-but-named."""
    plain = out / "_broken-src.zip"
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, full in _files(src):
            zf.writestr(rel, full.read_bytes())
    data = plain.read_bytes()
    dest = out / "broken-truncated.zip"
    dest.write_bytes(data[: len(data) // 2])
    yield Sample("broken", dest, "zip cut in half")
    dest = out / "broken-random.zip"
    dest.write_bytes(random.Random(5).randbytes(20_000))
    yield Sample("broken", dest, "random bytes named .zip")
    exe = sevenzip_exe()
    if exe is not None:
        seven = out / "_broken-src.7z"
        if _run([exe, "a", "-t7z", "-bd", seven, "photo.jpg", "notes"], cwd=src):
            raw = seven.read_bytes()
            dest = out / "broken-truncated.7z"
            dest.write_bytes(raw[: len(raw) * 2 // 3])
            yield Sample("broken", dest, "7z cut at two thirds")
    if _have("tar"):
        tarred = out / "_broken-src.tar.gz"
        if _run(["tar", "-czf", tarred, "-C", src, "."]):
            raw = tarred.read_bytes()
            dest = out / "broken-truncated.tar.gz"
            dest.write_bytes(raw[: len(raw) // 2])
            yield Sample("broken", dest, "tar.gz cut in half")


def gen_rar_fixtures(_src: Path, _out: Path) -> Iterator[Sample]:
    """RAR archives from a shared fixture folder when present (never copied here)."""
    folder = RAR_FIXTURES
    if not folder.is_dir():  # a worktree one level deeper than the checkout
        folder = Path(__file__).resolve().parents[4] / "shared/fixtures/rar"
    if not folder.is_dir():
        return
    try:
        expected = json.loads((folder / "expected.json").read_text())
    except (OSError, ValueError):
        expected = {}
    for path in sorted(folder.rglob("*")):
        name = path.name.lower()
        if not path.is_file():
            continue
        if name.endswith(".rar") and not _later_rar_volume(name):
            password = (expected.get(path.name) or {}).get("password")
            volumes = re.search(r"\.part0*1\.rar$", name) is not None
            hostile = "evil" in name
            yield Sample(
                "rar", path, "fixture", password=password, volumes=volumes, hostile=hostile
            )


def _later_rar_volume(name: str) -> bool:
    match = re.search(r"\.part(\d+)\.rar$", name)
    return match is not None and int(match.group(1)) > 1


def gen_rar_by_hand(_src: Path, out: Path) -> Iterator[Sample]:
    """RAR5 written from the format's description: an encrypted comment only."""
    dest = out / "rar5-hand-encrypted-comment.rar"
    dest.write_bytes(rar5_by_hand({"a.txt": b"plain\n"}, encrypted_comment=True))
    yield Sample("rar", dest, "by hand: RAR5, only its comment's header encrypted")


_ROWS = {
    "gzip": "tar",
    "bzip2": "tar",
    "xz": "tar",
    "zstd": "tar",
    "compress": "tar",
    "lzip": "tar",
    "lz4": "tar",
    "lzop": "tar",
    "lrzip": "tar",
    "lzma": "tar",
    "uu": "tar",
    "iso9660": "iso",
}


def collection(folder: Path) -> list[Sample]:
    """Every file of ``folder`` (another project's own test archives, say), each in
    the row of the format its bytes name; files no format names count as "other"."""
    from ferryman.archive.volumes import find_volumes

    samples = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            volumes = find_volumes(path)
        except FerrymanError:
            volumes = None
        if volumes is not None and len(volumes.parts) > 1:
            if volumes.first != path:
                continue
            fmt: str | None = "volumes"
        else:
            fmt = detect_format(path)
        row = _ROWS.get(fmt or "", fmt or "other")
        samples.append(Sample(row, path, f"collection ({fmt})", volumes=fmt == "volumes"))
    return samples


GENERATORS: dict[str, Generator] = {
    "bsdtar": gen_bsdtar,
    "gnutar": gen_gnutar,
    "largepax": gen_large_pax,
    "7zz": gen_7zz,
    "zip": gen_zip,
    "iso": gen_iso,
    "other": gen_other,
    "sfx": gen_sfx,
    "broken": gen_broken,
    "rar": gen_rar_fixtures,
    "rarhand": gen_rar_by_hand,
}


def build_corpus(out: Path, which: tuple[str, ...] | None = None) -> list[Sample]:
    """Every sample the tools here can make (``which``: the generators to run)."""
    out.mkdir(parents=True, exist_ok=True)
    src = payload(out / "_payload")
    samples: list[Sample] = []
    for name, generate in GENERATORS.items():
        if which is None or name in which:
            samples.extend(generate(src, out))
    return samples


# --------------------------------------------------------------------------- oracle


def oracle_extract(sample: Sample, dest: Path) -> str | None:
    """Extract with bsdtar, else 7zz; the tool that extracted cleanly, or None."""
    dest.mkdir(parents=True, exist_ok=True)
    if sample.contents is not None:
        for i, data in enumerate(sample.contents):
            (dest / f"file{i}").write_bytes(data)
        return "the writer"
    if sample.decompress is not None:
        try:
            done = subprocess.run(
                [*sample.decompress, str(sample.path)],
                capture_output=True,
                timeout=TOOL_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        (dest / "data").write_bytes(done.stdout)
        return sample.decompress[0]
    if sample.password is None and not sample.volumes and _have("bsdtar"):
        if _run(["bsdtar", "-x", "-f", sample.path, "-C", dest]):
            _unpad(sample, dest)
            return "bsdtar"
        if sample.warned_ok and any(p.is_file() for p in dest.rglob("*")):
            return "bsdtar (warned)"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    exe = sevenzip_exe()
    if exe is not None and not sample.not_7zz:
        password = f"-p{sample.password}" if sample.password else "-p"
        if _run([exe, "x", "-y", "-bd", password, f"-o{dest}", sample.path]):
            return "7zz"
    return None


def _unpad(sample: Sample, dest: Path) -> None:
    """bsdtar's disk writer extends a file to the size its header declares: a zip entry
    whose ZIP64 size lies by 4 GiB comes out as its 5 bytes and a 4 GiB hole. A zip
    holds no sparse files, so a hole in one bsdtar wrote is that padding: where 7zz
    wrote the same bytes without it (it fails the lie, but writes the data), 7zz's
    file is the one the CRC vouches for."""
    padded = [
        p
        for p in dest.rglob("*")
        if p.is_file() and not p.is_symlink() and p.stat().st_blocks * 512 < p.stat().st_size
    ]
    exe = sevenzip_exe()
    if not padded or exe is None or detect_format(sample.path) != "zip":
        return
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        _run([exe, "x", "-y", "-bd", "-p", f"-o{tmp}", sample.path])
        for path in padded:
            short = Path(tmp) / path.relative_to(dest)
            if not short.is_file() or short.stat().st_size >= path.stat().st_size:
                continue
            if _zeros_then_hole(path, short.read_bytes()):
                shutil.copyfile(short, path)


def _zeros_then_hole(path: Path, data: bytes) -> bool:
    """Whether ``path`` is ``data``, zeros to the end of its block, then only a hole
    (found with SEEK_HOLE and SEEK_DATA: the 4 GiB are never read)."""
    with path.open("rb") as f:
        if f.read(len(data)) != data:
            return False
        hole = os.lseek(f.fileno(), len(data), os.SEEK_HOLE)
        if hole - len(data) > 1 << 20 or f.read(hole - len(data)).strip(b"\0"):
            return False
        try:
            os.lseek(f.fileno(), hole, os.SEEK_DATA)
        except OSError:
            return True  # no data after the hole (ENXIO)
        return False


def expected_hashes(root: Path, depth: int = 0) -> set[str]:
    """sha256 of each regular file under ``root``, but OS junk (never delivered, by
    design: ``archive.names.is_junk``); archives inside (named *and* in a format, as
    ferryman opens them: not an executable 7-Zip reads as PE sections) replaced by
    their own files, as ferryman does."""
    hashes: set[str] = set()
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if is_junk(path.relative_to(root).as_posix()):
            continue
        if depth < 2 and named_archive(path.name) and detect_format(path) is not None:
            inner = Sample("nested", path, "nested")
            with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
                if oracle_extract(inner, Path(tmp)) is not None:
                    hashes |= expected_hashes(Path(tmp), depth + 1)
                    continue
        hashes.add(_file_sha256(path))
    return hashes


def _file_sha256(path: Path) -> str:
    """In blocks: an extracted sparse file may be gigabytes of holes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- ferryman


def ferryman_read(sample: Sample, outcome: Outcome, limits: ArchiveLimits | None = None) -> None:
    """Read ``sample`` as ferryman's read stage does; record what came and the codes."""
    passwords = (sample.password,) if sample.password else ()
    options = ReadOptions(
        archive=OpenOptions(passwords=passwords, limits=limits or ArchiveLimits())
    )
    try:
        inspect_local(sample.path)
        with iter_local(sample.path, options) as entries:
            for entry in entries:
                if entry.error is not None:
                    outcome.codes.append(entry.error.code)
                    outcome.messages.append(entry.error.message)
                    continue
                if entry.skip is not None:
                    continue
                try:
                    digest = read_through(_sha256_of, entry.blocks)
                except FerrymanError as exc:
                    if exc.code == "archive.limit_exceeded" or not _entry_level(exc):
                        raise
                    outcome.codes.append(exc.code)
                    outcome.messages.append(exc.message)
                    continue
                outcome.delivered.add(digest)
    except FerrymanError as exc:
        outcome.codes.append(exc.code)
        outcome.messages.append(exc.message)
    except Exception as exc:
        outcome.crashed = f"{type(exc).__name__}: {exc}"


def _sha256_of(blocks: Iterator[bytes]) -> str:
    """An entry's hash; ``read_through`` calls it again when the entry is read anew."""
    digest = hashlib.sha256()
    for block in blocks:
        digest.update(block)
    return digest.hexdigest()


def _entry_level(exc: FerrymanError) -> bool:
    return exc.code in ("archive.entry_corrupt", "archive.unsupported", "space.too_large")


def judge(sample: Sample, work: Path, timeout: float = 120.0) -> Outcome:
    """The oracle's files and ferryman's, for one sample."""
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        oracle = oracle_extract(sample, Path(tmp) / "x")
        outcome = Outcome(sample, oracle)
        if oracle is not None:
            outcome.expected = expected_hashes(Path(tmp) / "x")
    thread = threading.Thread(target=ferryman_read, args=(sample, outcome), daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        outcome.crashed = f"hang: no end after {timeout:.0f} s"
    return outcome


# --------------------------------------------------------------------------- helpers


def _files(src: Path) -> list[tuple[str, Path]]:
    return [(p.relative_to(src).as_posix(), p) for p in sorted(src.rglob("*")) if p.is_file()]


class _Unseekable:
    """A write-only file object that cannot seek: zipfile then writes data descriptors."""

    def __init__(self, raw: object) -> None:
        self._raw = raw
        self._pos = 0

    def write(self, data: bytes) -> int:
        self._raw.write(data)  # type: ignore[attr-defined]
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        raise OSError("unseekable")

    def flush(self) -> None:
        self._raw.flush()  # type: ignore[attr-defined]


def _zip_size_off_by_4gib(
    *contents: bytes, descriptor: bool = False, local_too: bool = False
) -> bytes:
    """A zip whose central directory gives each deflated entry's size + 4 GiB in a
    ZIP64 extra field (the local headers are right), as some ZIP64 writers did;
    ``local_too``: the local header's ZIP64 extra lies the same way (libarchive's
    ``test_read_format_zip_uncompressed_size_off_by_4gib`` kind)."""
    local = b""
    central = b""
    for i, data in enumerate(contents):
        name = f"file{i}.txt".encode()
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush()
        crc = zlib.crc32(data)
        offset = len(local)
        flags = 0x08 if descriptor else 0
        sizes = (0, 0, 0) if descriptor else (crc, len(packed), len(data))
        lie = struct.pack("<HHQQ", 1, 16, len(data) + (1 << 32), len(packed)) if local_too else b""
        if local_too and not descriptor:
            sizes = (crc, 0xFFFFFFFF, 0xFFFFFFFF)
        local += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 45 if local_too else 20, flags, 8, 0, 0x21, *sizes,
            len(name), len(lie),
        )  # fmt: skip
        local += name + lie + packed
        if descriptor:
            local += struct.pack("<IIII", 0x08074B50, crc, len(packed), len(data))
        extra = struct.pack("<HHQ", 1, 8, len(data) + (1 << 32))
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            45,
            45,
            flags,
            8,
            0,
            0x21,
            crc,
            len(packed),
            0xFFFFFFFF,
            len(name),
            len(extra),
            0,
            0,
            0,
            0o100644 << 16,
            offset,
        )
        central += name + extra
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(contents), len(contents), len(central), len(local), 0
    )
    return local + central + end


def _cpio_without_type_bits(files: dict[str, bytes]) -> bytes:
    """A newc cpio whose entries' modes hold permissions only (no S_IFREG), as some
    writers (and RAR3's Unix attributes) leave them."""
    out = b""
    for ino, (name, data) in enumerate([*files.items(), ("TRAILER!!!", b"")], 1):
        raw = name.encode() + b"\x00"
        mode = 0o644 if data or name != "TRAILER!!!" else 0
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(raw), 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        out += header + raw + bytes(-(len(header) + len(raw)) % 4)
        out += data + bytes(-len(data) % 4)
    return out + bytes(-len(out) % 512)


def _make_rpm(src: Path, out: Path) -> Path | None:
    top = out / "_rpmbuild"
    spec = top / "corpus.spec"
    (top / "SOURCES").mkdir(parents=True, exist_ok=True)
    installs = []
    for rel, _full in _files(src):
        safe = rel.replace(" ", "?")
        installs.append(
            f"mkdir -p \"%{{buildroot}}/opt/corpus/$(dirname '{rel}')\" && "
            f"cp '{src / rel}' \"%{{buildroot}}/opt/corpus/{rel}\""
        )
        del safe
    spec.write_text(
        "Name: corpus\nVersion: 1\nRelease: 1\nSummary: c\nLicense: MIT\nBuildArch: noarch\n"
        "%description\nc\n%install\n" + "\n".join(installs) + "\n%files\n/opt/corpus\n"
    )
    ok = _run(
        [
            "rpmbuild",
            "-bb",
            "--define",
            f"_topdir {top}",
            "--define",
            "__os_install_post %{nil}",
            spec,
        ]
    )
    if not ok:
        return None
    built = sorted((top / "RPMS").rglob("*.rpm"))
    if not built:
        return None
    dest = out / "rpmbuild.rpm"
    shutil.copyfile(built[0], dest)
    return dest


def _vint(n: int) -> bytes:
    """RAR5's variable-length integer."""
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def _rar5_block(kind: int, body: bytes, extra: bytes = b"", data: bytes = b"") -> bytes:
    flags = (0x01 if extra else 0) | (0x02 if data else 0)
    fields = _vint(kind) + _vint(flags)
    fields += (_vint(len(extra)) if extra else b"") + (_vint(len(data)) if data else b"")
    fields += body + extra
    size = _vint(len(fields))
    return struct.pack("<I", zlib.crc32(size + fields)) + size + fields + data


def rar5_by_hand(
    files: dict[str, bytes],
    *,
    encrypted_comment: bool = False,
    encrypted: tuple[str, ...] = (),
    bare_record: tuple[str, ...] = (),
) -> bytes:
    """A RAR5 of stored files, written from the format's description (no free tool
    writes RAR): optionally an archive comment whose service header carries an
    encryption record (its only encrypted part), or files whose headers do
    (``bare_record``: a record with no password check and no MAC, zero salt and IV,
    its data plain, as in libarchive's ``only_crypt_exfld`` sample)."""
    rng = random.Random(5)
    crypt = _vint(1) + _vint(0) + _vint(1) + bytes([15]) + rng.randbytes(44)
    crypt_record = _vint(len(crypt)) + crypt
    bare = _vint(1) + _vint(0) + _vint(0) + bytes(33)
    bare_crypt_record = _vint(len(bare)) + bare
    out = b"Rar!\x1a\x07\x01\x00" + _rar5_block(1, _vint(0))
    if encrypted_comment:
        comment = rng.randbytes(32)
        body = _vint(0) + _vint(len(comment)) + _vint(0) + _vint(0) + _vint(1) + _vint(3) + b"CMT"
        out += _rar5_block(3, body, extra=crypt_record, data=comment)
    for name, data in files.items():
        raw = name.encode()
        body = _vint(0x04) + _vint(len(data)) + _vint(0o100644)
        body += struct.pack("<I", zlib.crc32(data)) + _vint(0) + _vint(1) + _vint(len(raw)) + raw
        extra = crypt_record if name in encrypted else b""
        extra = bare_crypt_record if name in bare_record else extra
        out += _rar5_block(2, body, extra=extra, data=data)
    return out + _rar5_block(5, _vint(0))
