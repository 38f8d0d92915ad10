"""A compressed stream's one layer (the tar of a ``.tar.Z``) unpacked by 7zz to a file.

7zz lists ``x.tar.Z`` as one entry, ``x.tar``; where libarchive breaks in the middle
of such a tar (libarchive 3.6 refuses a pax header over 1 MiB, "Special header too
large", which 7-Zip and bsdtar 3.7 read), the tar is unpacked here so that 7zz can
read its entries from the one libarchive failed on (``archive.opener``). The file is
bounded by the archive's byte limit and removed when the reader is done.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ferryman.archive.reader import OpenOptions
from ferryman.archive.sevenzip.backend import SevenZip, SevenZipReader
from ferryman.archive.sevenzip.process import environment, stop
from ferryman.errors import FerrymanError

_BLOCK = 1 << 20


def tar_reader(
    exe: SevenZip, path: Path, fmt: str, options: OpenOptions
) -> tuple[SevenZipReader, UnpackedLayer | None]:
    """7zz's reader of the tar ``path`` is (``fmt`` "tar") or holds (a compressed
    stream: unpacked first; the layer is the caller's to close)."""
    if fmt == "tar":
        return SevenZipReader(exe, path, options), None
    layer = UnpackedLayer(exe.path, path, options.limits.max_total_bytes, path.name)
    try:
        return SevenZipReader(exe, layer.path, options, path.name), layer
    except BaseException:
        layer.close()
        raise


class UnpackedLayer:
    """The layer inside ``archive`` as a file (``path``) until ``close``."""

    def __init__(self, exe: Path, archive: Path, limit: int, name: str) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="ferryman-layer-"))
        self.path = self._folder / (Path(name).stem or "layer")
        try:
            _unpack(exe, archive, self.path, limit, name)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


def _unpack(exe: Path, archive: Path, dest: Path, limit: int, name: str) -> None:
    """``7zz x -so`` into ``dest``: at most ``limit`` bytes, within the CPU budget 7zz
    gets to test an archive (a minute plus 4 s per MiB packed)."""
    deadline = time.monotonic() + 60 + 4 * (archive.stat().st_size >> 20)
    proc = subprocess.Popen(
        [str(exe), "x", "-so", "-p", "-bse0", "-bsp0", str(archive)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=environment(),
    )
    assert proc.stdout is not None
    written = 0
    done = False
    try:
        with dest.open("wb") as out:
            while block := proc.stdout.read(_BLOCK):
                written += len(block)
                if written > limit:
                    raise FerrymanError(
                        "archive.limit_exceeded",
                        f"{name}: unpacks to more than {limit} bytes",
                    )
                if time.monotonic() > deadline:
                    raise FerrymanError("archive.unreadable", f"{name}: 7zz took too long")
                out.write(block)
        done = True
    finally:
        if done:
            proc.wait()
            proc.stdout.close()
        else:
            stop(proc)
    if proc.returncode != 0:
        raise FerrymanError("archive.unreadable", f"{name}: 7zz could not unpack it")
