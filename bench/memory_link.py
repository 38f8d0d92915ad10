"""Memory of a link's transcode on a phone: the trip's 720p VP9 (``bench._trip_input``)
made into an MP4 by the link converter (``media.linkout.video_file``, a link child's
work) and by the engine's own transcode (``media.segmented.transcode_resumable``), each
in a fresh process (its VmHWM: PyAV and the media modules, ~45 MiB, included).

The link's rows: FFmpeg's threads by the cores and the preset's lookahead (what a link
got before ``convert.threads`` and ``convert.lookahead`` reached it: 3 threads on 2
cores, 12 on an 8-core phone, emulated here), and the phone's settings as ``links.grab``
passes them now. Part of ``python -m bench memory``; alone:
``python -m bench.memory_link``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench._common import Check, Table, fmt_bytes, progress
from bench._trip_input import make_input
from ferryman.config.sections import PHONE_LOOKAHEAD, PHONE_THREADS

VP9_ENTRY = "DCIM/Camera/VID_vp9.webm"
SIZE_MIB = 256  # the trip row's input: its VP9 is the one measured
SLACK = 1.10  # the link's transcode peaks within this of the engine's own, same settings
MAKE = """
import json, sys
from pathlib import Path
def hwm():  # VmHWM, this process's own
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))
src, work, how = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
threads, lookahead = int(sys.argv[4]), (int(sys.argv[5]) or None)
work.mkdir(parents=True, exist_ok=True)
if how == "link":
    from ferryman.links.grab import GrabOptions
    from ferryman.media.linkout import video_file
    options = GrabOptions(threads=threads, lookahead=lookahead)
    video_file(src, None, work / "out.mp4", work, True, 1080, {}, lambda _f: None,
               threads=options.threads, lookahead=options.lookahead)
else:
    from ferryman.media.segmented import EncodeSettings, transcode_resumable
    settings = EncodeSettings(max_height=1080, threads=threads, lookahead=lookahead)
    transcode_resumable(src, work / "out.mp4", work / "parts", settings)
print(json.dumps({"peak": hwm(), "bytes": (work / "out.mp4").stat().st_size}))
"""


@dataclass(frozen=True, slots=True)
class Made:
    label: str
    how: str  # "link" or "engine"
    threads: int
    lookahead: int | None
    peak: int = 0
    size: int = 0


ROWS = (
    Made("link, FFmpeg's threads by the cores, the preset's lookahead (before)", "link", 0, None),
    Made("link, 12 threads (an 8-core phone's count by the cores), the preset's", "link", 12, None),
    Made(
        f"link, phone: {PHONE_THREADS} threads, lookahead {PHONE_LOOKAHEAD}",
        "link",
        PHONE_THREADS,
        PHONE_LOOKAHEAD,
    ),
    Made(
        f"engine's own, phone: {PHONE_THREADS} threads, lookahead {PHONE_LOOKAHEAD}",
        "engine",
        PHONE_THREADS,
        PHONE_LOOKAHEAD,
    ),
)


def make_in_child(root: Path, src: Path, row: Made, n: int) -> Made:
    work = root / f"link-{n}"
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            MAKE,
            str(src),
            str(work),
            row.how,
            str(row.threads),
            str(row.lookahead or 0),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(ran.stdout.splitlines()[-1])
    return Made(row.label, row.how, row.threads, row.lookahead, out["peak"], out["bytes"])


def measure(root: Path) -> tuple[Table, list[Check]]:
    src = root / "vp9.webm"
    with zipfile.ZipFile(make_input(SIZE_MIB).path) as archive:
        src.write_bytes(archive.read(VP9_ENTRY))
    made = []
    for n, row in enumerate(ROWS):
        progress(f"memory: a link's transcode, {row.label}")
        made.append(make_in_child(root, src, row, n))
    table = Table(["720p VP9 (3 s) -> MP4", "peak RSS (VmHWM)", "output"])
    for m in made:
        table.add(m.label, fmt_bytes(m.peak), fmt_bytes(m.size))
    before, _many, link, engine = made
    checks = [
        Check(
            "phone: a link's transcode holds what the engine's own does",
            f"{fmt_bytes(link.peak)} (engine's {fmt_bytes(engine.peak)})",
            f"<= {SLACK:.2f}x the engine's",
            link.peak <= SLACK * engine.peak,
        ),
        Check(
            "phone: a link's transcode below FFmpeg's threads by the cores",
            f"{fmt_bytes(link.peak)} vs {fmt_bytes(before.peak)}",
            "lower",
            link.peak < before.peak,
        ),
    ]
    return table, checks


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ferryman-bench-link-") as folder:
        table_, checks_ = measure(Path(folder))
    print(table_.render())
    for check in checks_:
        print(
            f"{'ok' if check.passed else 'FAILED'}: {check.target}: {check.value} ({check.limit})"
        )
