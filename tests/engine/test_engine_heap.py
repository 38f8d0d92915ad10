"""After a big album the engine hands what it freed back to the system (archive/allocator.py).

glibc's mmap threshold follows the largest block freed: after a decoded picture, the
blocks below its size come from the heap and stay there once freed, up to twice that
size. The phone trip's engine grew by ~100 MiB over the trip for it
(bench/results/memory.md)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = """
from ferryman.archive.allocator import give_back_freed

def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) << 10 for line in status if line.startswith("VmRSS:"))

picture = b"\\x01" * (8 << 20)  # a picture's pixels: mapped on their own, then
del picture  # freed (glibc's threshold now follows them up to 8 MiB)
before = rss()
parts = [b"\\x02" * (512 << 10) for _ in range(24)]  # 12 MiB of upload parts: in the heap
del parts
give_back_freed()
print(rss() - before)
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="glibc's heap only (the test knows how glibc keeps freed blocks)",
)
def test_big_blocks_freed_go_back_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    kept = int(done.stdout.strip().splitlines()[-1])
    assert kept < 4 << 20, f"{kept >> 20} MiB of freed 512 KiB blocks kept in the heap"
