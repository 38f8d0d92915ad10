"""Memory per picture: the peak RSS of fitting the worst pictures we can make for
Telegram, each in a fresh process (the kernel's high-water mark, ``ru_maxrss``).

The pictures: a 16-bit RGBA PNG of 149 MP (just under ``media.max_image_pixels``; 1.2 MB
on disk, over the byte budget: it must go as a document, never decoded), PNGs of three
kinds at the budget (``media.max_image_bytes``, the most a picture may cost decoded), and
a 148 MP JPEG (decoded reduced). Part of ``python -m bench memory``; alone:
``python -m bench.memory_pictures``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bench._common import MB, Check, Table, fmt_bytes, progress
from ferryman.media.budget import DEFAULT_MAX_IMAGE_BYTES
from tests.support.image_corpus import deep_png

# What a picture within the budget may peak at: Pillow's 4 bytes a pixel, the flattened
# copy and the resize's pass, over the budget's samples (docs/media.md).
PEAK_LIMIT = 0.75 * 1024 * MB
FIT = """
import json, sys, warnings
def hwm():  # VmHWM, this process's own: ru_maxrss keeps the parent's peak across exec
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))
from pathlib import Path
warnings.simplefilter("ignore")
from ferryman.errors import FerrymanError
from ferryman.media.images import fit_photo
from ferryman.media.policy import TELEGRAM
src = Path(sys.argv[1])
try:
    made = fit_photo(src, src.with_suffix(".fitted.jpg"), TELEGRAM.photo)
    outcome = f"photo {made.width}x{made.height}"
except FerrymanError as exc:
    outcome = exc.code
print(json.dumps({"outcome": outcome,
                  "peak": hwm()}))
"""


@dataclass(frozen=True, slots=True)
class Picture:
    label: str
    path: Path
    decoded: int  # width x height x channels x bytes per sample
    outcome: str = ""
    peak: int = 0


def make_pictures(root: Path) -> list[Picture]:
    """The worst pictures: written fast (``deep_png``), the JPEG by Pillow."""
    budget = DEFAULT_MAX_IMAGE_BYTES
    specs = [  # label, side, depth, samples: at the budget, one kind each
        ("16-bit RGBA PNG, 149 MP", 12_200, 16, 4),
        ("8-bit RGB PNG at the budget", math.isqrt(budget // 3), 8, 3),
        ("8-bit RGBA PNG at the budget", math.isqrt(budget // 4), 8, 4),
        ("16-bit RGBA PNG at the budget", math.isqrt(budget // 8), 16, 4),
    ]
    pictures = []
    for label, side, depth, samples in specs:
        path = deep_png(
            root / f"{label.replace(' ', '_')}.png", side, side, depth=depth, samples=samples
        )
        pictures.append(
            Picture(f"{label} ({side} x {side})", path, side * side * samples * depth // 8)
        )
    jpeg = root / "big.jpg"
    size = (14_000, 10_600)
    Image.linear_gradient("L").resize(size).convert("RGB").save(jpeg, quality=90)
    pictures.append(Picture("JPEG, 148 MP (14000 x 10600)", jpeg, size[0] * size[1] * 3))
    return pictures


def fit_in_child(picture: Picture) -> Picture:
    ran = subprocess.run(
        [sys.executable, "-c", FIT, str(picture.path)], capture_output=True, text=True, check=True
    )
    out = json.loads(ran.stdout.splitlines()[-1])
    return Picture(picture.label, picture.path, picture.decoded, out["outcome"], out["peak"])


def measure(root: Path) -> tuple[Table, list[Check], list[Picture]]:
    progress("memory: making the worst pictures")
    measured = []
    for picture in make_pictures(root):
        progress(f"memory: fitting {picture.label}")
        measured.append(fit_in_child(picture))
    table = Table(["picture", "decoded bytes", "outcome", "peak RSS"])
    for p in measured:
        table.add(p.label, fmt_bytes(p.decoded), p.outcome, fmt_bytes(p.peak))
    within = [p for p in measured if p.decoded <= DEFAULT_MAX_IMAGE_BYTES or "JPEG" in p.label]
    over = [p for p in measured if p not in within]
    checks = [
        Check(
            "a picture over the budget is never decoded (a document)",
            ", ".join(f"{p.outcome} at {fmt_bytes(p.peak)}" for p in over),
            f"media.over_budget, < {fmt_bytes(DEFAULT_MAX_IMAGE_BYTES)}",
            all(
                p.outcome == "media.over_budget" and p.peak < DEFAULT_MAX_IMAGE_BYTES for p in over
            ),
        ),
        Check(
            "a picture within the budget peaks within what a 3 GB phone affords",
            fmt_bytes(max(p.peak for p in within)),
            f"<= {fmt_bytes(PEAK_LIMIT)}",
            all(p.peak <= PEAK_LIMIT and p.outcome.startswith("photo") for p in within),
        ),
    ]
    return table, checks, measured


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ferryman-bench-pictures-") as folder:
        table_, checks_, _ = measure(Path(folder))
    print(table_.render())
    for check in checks_:
        print(
            f"{'ok' if check.passed else 'FAILED'}: {check.target}: {check.value} ({check.limit})"
        )
