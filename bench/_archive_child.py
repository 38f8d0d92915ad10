"""The ferryman side of ``bench archives``: read one archive as the engine's staging does.

``python -m bench._archive_child [--pipe | --backend 7zz] [--password PW] [--profile FILE]
ARCHIVE OUT_DIR``

Opens ARCHIVE with ``ferryman.archive.opener.open_archive`` (with ``--pipe``: fed
through ``cat`` into ``open_archive_stream``, a non-seekable input; with ``--backend
7zz``: the 7zz backend behind the guard, as the opener uses it when libarchive cannot
read an archive; ``--password``: the one password to try, as
``OpenOptions.passwords``), reads every file entry with ``read_blocks`` and writes it to one file
in OUT_DIR, deleted before the next entry (the engine's staging, minus fsync). Prints
one JSON line on stdout: what it read, the backend that served the archive, its time
from open to close, the largest file it held on disk, and its peak RSS (VmHWM).

Imports only ``ferryman.archive.*`` (and the stdlib), never the engine: SQLAlchemy,
PyAV and friends would blur the reader's own memory. The imports happen before the
clock starts: an engine pays them once, not per archive.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from ferryman.archive.guard import GuardedReader
from ferryman.archive.opener import open_archive, open_archive_stream
from ferryman.archive.reader import ArchiveReader, OpenOptions
from ferryman.archive.sevenzip.backend import SevenZip, SevenZipReader, find_7zz

# Modules that must not be loaded here: if one is, the RSS measured is not the reader's.
HEAVY = ("sqlalchemy", "av", "PIL", "pydantic", "aiosqlite", "asyncpg", "typer", "ferryman.engine")


def vm_hwm() -> int:
    """This process's peak RSS (VmHWM), in bytes."""
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def backend_chain(reader: object) -> list[str]:
    """Class names from the reader that was opened down to the backend in use.

    Follows the wrappers' inner readers (the guard's ``_inner``, the fallback reader's
    ``_current``); called after iteration, since the fallback may switch backends.
    """
    chain: list[str] = []
    obj: object | None = reader
    while obj is not None and len(chain) < 6:
        chain.append(type(obj).__name__)
        inner = None
        for attr in ("inner", "_inner", "_current"):
            candidate = getattr(obj, attr, None)
            if candidate is not None and hasattr(candidate, "__enter__"):
                inner = candidate
                break
        obj = inner
    return chain


@contextmanager
def open_reader(
    path: Path, how: str, exe: SevenZip | None, options: OpenOptions
) -> Iterator[ArchiveReader]:
    """The reader for ``path``: "file" (open_archive), "pipe" or "7zz" (see the module doc)."""
    if how == "file":
        with open_archive(path, options) as reader:
            yield reader
    elif how == "pipe":
        cat = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)
        assert cat.stdout is not None
        try:
            stream = cast(BinaryIO, cat.stdout)
            with open_archive_stream(stream, path.name, options) as reader:
                yield reader
        finally:
            cat.stdout.close()
            cat.kill()
            cat.wait()
    elif how == "7zz":
        if exe is None:
            raise SystemExit("no 7zz found")
        inner = SevenZipReader(exe, path, options)
        with GuardedReader(inner, path.name, options.limits) as reader:
            yield reader
    else:
        raise ValueError(how)


def read_all(
    path: Path, out_dir: Path, how: str, exe: SevenZip | None, options: OpenOptions
) -> dict[str, Any]:
    """Read every entry of ``path`` into ``out_dir``, one file at a time."""
    entries = files = total = largest = 0
    started = time.perf_counter()
    with open_reader(path, how, exe, options) as reader:
        for entry in reader:
            entries += 1
            if entry.info.type != "file":  # a StrEnum; junk, links and the like are not read
                continue
            target = out_dir / f"entry-{files:06d}"
            written = 0
            with open(target, "wb") as out:
                for block in entry.read_blocks():
                    out.write(block)
                    written += len(block)
            files += 1
            total += written
            largest = max(largest, written)
            target.unlink()
        chain = backend_chain(reader)
    seconds = time.perf_counter() - started
    return {
        "how": how,
        "backend": chain[-1] if chain else "?",
        "chain": chain,
        "entries": entries,
        "files": files,
        "bytes": total,
        "largest_file": largest,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._archive_child")
    parser.add_argument("archive", type=Path)
    parser.add_argument("out_dir", type=Path)
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument(
        "--pipe", action="store_const", const="pipe", dest="how", help="through `cat`"
    )
    modes.add_argument(
        "--backend",
        choices=["7zz"],
        dest="how",
        help="the 7zz backend (behind the guard) instead of open_archive",
    )
    parser.add_argument("--password", help="the password to try (OpenOptions.passwords)")
    parser.add_argument("--profile", type=Path, help="write a cProfile dump here")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    how: str = args.how or "file"
    exe = find_7zz() if how == "7zz" else None  # found once per engine, not per archive
    options = OpenOptions(passwords=(args.password,) if args.password is not None else ())
    if args.profile is not None:
        profiler = cProfile.Profile()
        report = profiler.runcall(read_all, args.archive, args.out_dir, how, exe, options)
        profiler.dump_stats(args.profile)
    else:
        report = read_all(args.archive, args.out_dir, how, exe, options)
    report["hwm"] = vm_hwm()
    report["heavy_modules"] = sorted(
        m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY)
    )
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
