"""What the benchmarks share: tables, results and targets, scratch folders, samplers."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ferryman.config import Settings, load_settings

MiB = 1024**2
MB = 1000**2

# --------------------------------------------------------------------------- formatting


def fmt_bytes(n: float) -> str:
    if abs(n) >= 1024**3:
        return f"{n / 1024**3:.2f} GiB"
    if abs(n) >= MiB:
        return f"{n / MiB:.1f} MiB"
    if abs(n) >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n:.0f} B"


def fmt_seconds(s: float) -> str:
    return f"{s:.3f}" if s < 10 else f"{s:.2f}"


def fmt_ratio(r: float) -> str:
    return f"{r:.2f}x" if r < 100 else f"{r:.0f}x"


class Table:
    """A plain-text table; numbers (and anything starting with one) are right-aligned."""

    def __init__(self, headers: Sequence[str]) -> None:
        self.headers = list(headers)
        self.rows: list[list[str]] = []

    def add(self, *cells: object) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"expected {len(self.headers)} cells, got {len(cells)}")
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        widths = [
            max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
            for i, h in enumerate(self.headers)
        ]
        numeric = [
            all(_numeric(r[i]) for r in self.rows) and bool(self.rows)
            for i in range(len(self.headers))
        ]

        def line(cells: Sequence[str]) -> str:
            parts = [
                c.rjust(w) if num else c.ljust(w)
                for c, w, num in zip(cells, widths, numeric, strict=True)
            ]
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(self.headers), rule, *(line(r) for r in self.rows)])

    def as_dicts(self) -> list[dict[str, str]]:
        return [dict(zip(self.headers, r, strict=True)) for r in self.rows]


def _numeric(cell: str) -> bool:
    return cell in ("-", "") or cell[:1].isdigit() or cell[:2].lstrip("-+").isdigit()


@dataclass
class Check:
    """A target: what was measured, the limit, and whether it was met."""

    target: str
    value: str
    limit: str
    passed: bool


@dataclass
class Result:
    """One benchmark's output: tables (the first holds the baseline), targets, notes."""

    name: str
    title: str
    tables: list[tuple[str, Table]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def render(self) -> str:
        out = [f"== {self.name}: {self.title} =="]
        for caption, table in self.tables:
            out += ["", caption, table.render()] if caption else ["", table.render()]
        if self.checks:
            targets = Table(["target", "measured", "limit", "result"])
            for c in self.checks:
                targets.add(c.target, c.value, c.limit, "PASS" if c.passed else "FAIL")
            out += ["", targets.render()]
        if self.notes:
            out += [""] + [f"* {n}" for n in self.notes]
        return "\n".join(out)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "tables": [{"caption": c, "rows": t.as_dicts()} for c, t in self.tables],
            "checks": [c.__dict__ for c in self.checks],
            "notes": self.notes,
            "data": self.data,
            "passed": self.passed,
        }


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the tables."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- setup


@contextlib.contextmanager
def scratch(prefix: str, base: Path | None, keep: bool) -> Iterator[Path]:
    """A fresh temporary folder (under ``base`` or the system's temp dir), deleted after."""
    path = Path(tempfile.mkdtemp(prefix=f"ferryman-bench-{prefix}-", dir=base))
    try:
        yield path
    finally:
        if keep:
            progress(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def cache_dir() -> Path:
    """Where inputs that take long to make are kept between runs: ``$BENCH_CACHE``, else
    ``$XDG_CACHE_HOME/ferryman-bench`` (``~/.cache/ferryman-bench``). Delete it at will."""
    explicit = os.environ.get("BENCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ferryman-bench"


def bench_settings(data_dir: Path) -> Settings:
    """Defaults (plus any FERRYMAN_* in the environment), a fresh data dir, no space floor."""
    return load_settings(None, {"data_dir": data_dir, "space_floor": 0})


def ferryman_env_note() -> str | None:
    notes = []
    found = sorted(k for k in os.environ if k.startswith("FERRYMAN_"))
    if found:
        notes.append(
            "FERRYMAN_* variables in the environment apply to these runs: " + ", ".join(found)
        )
    if sys.dont_write_bytecode:
        # No import writes bytecode then: ``main`` compiles ferryman's (and the fake's)
        # modules before the runs, as an install does, or each process would compile them
        # from source (a start-up, a first album ~0.3 s more than a user's).
        notes.append(
            "PYTHONDONTWRITEBYTECODE is set: ferryman's modules were compiled to bytecode"
            " before the runs, as an install compiles them"
        )
    return "; ".join(notes) or None


def machine_speed() -> str:
    """How fast this machine is right now, for comparing absolute figures across days.

    The targets are ratios to baselines measured in the same run, but two (pipeline's
    ms per item, web's p99) are absolute, and these shared machines differ: the same
    code gave 2.6 s one day and 8 s another. A pure-Python loop and a small file's
    write+fsync, measured here, say which kind of day it was.
    """
    loop = min(_timed_loop() for _ in range(3))
    with tempfile.TemporaryDirectory() as folder:
        fsyncs = sorted(_timed_fsync(Path(folder) / f"f{n}") for n in range(20))
    return (
        f"machine now: 1e6-step Python loop {loop * 1000:.0f} ms,"
        f" 1 KB write+fsync median {fsyncs[len(fsyncs) // 2] * 1000:.2f} ms"
    )


def _timed_loop() -> float:
    started = time.perf_counter()
    total = 0
    for step in range(1_000_000):
        total += step
    return time.perf_counter() - started


def _timed_fsync(path: Path) -> float:
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"x" * 1024)
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - started


def compile_like_an_install() -> Path:
    """Compile ferryman's own modules (and the fake Telegram's) to bytecode, as pip does
    when it installs a package; returns ferryman's package folder.

    An editable install never compiles them, and where PYTHONDONTWRITEBYTECODE is set no
    import writes them either: every ferryman process then compiles each module it loads
    from source (about 0.3 s per process here), which a user's install does not, while
    the installed tools it is compared with (yt-dlp) load theirs compiled."""
    import compileall

    import faketg
    import ferryman

    package = Path(ferryman.__file__).resolve().parent
    for folder in (package, Path(faketg.__file__).resolve().parent):
        if not compileall.compile_dir(folder, quiet=1):
            raise RuntimeError(f"compiling {folder} failed")
    return package


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def tree_bytes(root: Path, seen: set[tuple[int, int]] | None = None) -> int:
    """Apparent size of the files under ``root``, each inode once (hard links share one).

    Files may vanish while we walk (the engine deletes them); those count as gone.
    """
    seen = set() if seen is None else seen
    total = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                total += st.st_size
    return total


# --------------------------------------------------------------------------- sampling


def rss_tree(proc: psutil.Process) -> int:
    """Resident memory of ``proc`` plus all its descendants (bytes)."""
    total = 0
    try:
        total += proc.memory_info().rss
        children = proc.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return total
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            total += child.memory_info().rss
    return total


def _vm_hwm(pid: int) -> int:
    """The kernel's peak RSS of ``pid`` since it exec'd (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no VmHWM for {pid}")


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    """``proc`` and its live descendants; none when ``proc`` itself is gone."""
    try:
        return [proc, *proc.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def hwm_tree(proc: psutil.Process) -> int:
    """Peak RSS (VmHWM) of ``proc`` plus that of each live descendant; falls back to RSS.

    Exact for the process itself (the kernel keeps the high-water mark), unlike a sample.
    ``ru_maxrss`` from ``wait4`` is no good here: a child's starts at its parent's peak,
    inherited across fork+exec, so every child looked as big as this benchmark process.
    """
    total = 0
    for member in _tree(proc):
        try:
            total += _vm_hwm(member.pid)
        except (OSError, ValueError):
            with contextlib.suppress(psutil.Error):
                total += member.memory_info().rss
    return total


def pss_tree(proc: psutil.Process) -> int:
    """Proportional set size of ``proc`` plus its descendants (bytes): each page shared
    by several of them (a forked child and its template) counted once in all, where a
    sum of their RSS counts it in each. A sample (the kernel keeps no peak of it).

    A child starting a program (``subprocess``, the template's and the resource
    tracker's start) is a vfork of its parent until its exec: the same memory, whose
    figures it reads the same to the kB; it is not counted a second time (it was: a
    sample in that moment doubled the engine's share, 170 MiB, in a phone trip)."""
    figures: dict[int, tuple[int, int]] = {}  # pid -> (Pss, Rss) in kB
    parents: dict[int, int] = {}
    for member in _tree(proc):
        with contextlib.suppress(OSError, ValueError, psutil.Error):
            figures[member.pid] = _rollup(member.pid)
            parents[member.pid] = member.ppid()
    return 1024 * sum(
        pss
        for pid, (pss, rss) in figures.items()
        if figures.get(parents.get(pid, -1)) != (pss, rss)
    )


def _rollup(pid: int) -> tuple[int, int]:
    """``pid``'s Pss and Rss, in kB (``/proc/<pid>/smaps_rollup``)."""
    found: dict[bytes, int] = {}
    with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
        for line in rollup:
            if line.startswith((b"Pss:", b"Rss:")):
                found[line[:3]] = int(line.split()[1])
    return found[b"Pss"], found[b"Rss"]


class Sampler:
    """Calls each probe every ``interval`` seconds on a thread; keeps each one's peak."""

    def __init__(self, probes: dict[str, Callable[[], int]], interval: float) -> None:
        self.probes = probes
        self.interval = interval
        self.peaks = dict.fromkeys(probes, 0)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()  # one last look, after the process is gone

    def _sample(self) -> None:
        for name, probe in self.probes.items():
            try:
                value = probe()
            except (OSError, psutil.Error):
                continue
            if value > self.peaks[name]:
                self.peaks[name] = value
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._sample()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


@dataclass
class Measured:
    """A finished subprocess: wall time, exit code, and the peak of every probe.

    ``peaks["rss"]`` is the largest sampled RSS of the process tree; ``peaks["hwm"]`` the
    kernel's high-water mark (VmHWM) as last seen, which no sampling gap can miss.
    """

    seconds: float
    returncode: int
    peaks: dict[str, int]
    samples: int
    log: Path
    timed_out: bool = False


def run_measured(
    cmd: Sequence[str],
    *,
    env: dict[str, str],
    log: Path,
    interval: float,
    probes: dict[str, Callable[[], int]],
    timeout: float,
    pss: bool = False,
) -> Measured:
    """Run ``cmd``, sampling its RSS tree (probe ``rss``) and the given probes meanwhile.

    A run that outlives ``timeout`` seconds gets SIGTERM, then SIGKILL 10 s later.
    """
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, env=env)
        handle = psutil.Process(proc.pid)
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            with contextlib.suppress(psutil.Error):
                handle.terminate()
                handle.wait(10)
            with contextlib.suppress(psutil.Error):
                handle.kill()

        timer = threading.Timer(timeout, stop)
        timer.daemon = True
        timer.start()
        all_probes = {"rss": lambda: rss_tree(handle), "hwm": lambda: hwm_tree(handle), **probes}
        if pss:  # opt-in: reading smaps_rollup walks each process's page tables
            all_probes["pss"] = lambda: pss_tree(handle)
        try:
            with Sampler(all_probes, interval) as sampler:
                returncode = proc.wait()
                seconds = time.perf_counter() - started
        finally:
            timer.cancel()
    if timed_out.is_set():
        progress(f"{Path(cmd[0]).name} {' '.join(cmd[1:4])}… timed out after {timeout:.0f} s")
    return Measured(
        seconds=seconds,
        returncode=returncode,
        peaks=sampler.peaks,
        samples=sampler.samples,
        log=log,
        timed_out=timed_out.is_set(),
    )


def source_description() -> str:
    """Which ferryman is measured: its folder, and the git revision when it has one."""
    import ferryman

    where = Path(ferryman.__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"ferryman from {where}"
    return f"ferryman from {where} at {rev}{' + uncommitted changes' if dirty else ''}"


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
