"""Conformance with Pillow: every picture Pillow decodes arrives, as Telegram shows it.

``python -m bench conformance-images`` writes the odd-image corpus
(``tests/support/image_corpus.py``: every PNG colour type and depth, APNG, JPEG encodings and
EXIF orientations, MPO good and broken, GIFs without a palette or with bomb-sized frame
extents, TIFF depths and pages, BMP, ICO, TGA, PPM/PFM, WebP, HEIC, AVIF, PCX, SGI, QOI,
JPEG 2000, DDS, ICNS, BLP, MSP, IM, XBM, Sun raster, PSD, strips, 1x1s, truncated
files), sends it through the whole engine as one job (the library as destination,
judged by Telegram's policy), and prints per format: how many Pillow decodes (every
frame, truncation refused), how many of those ferryman delivers, how many it ends with
a clear code where Pillow cannot, how many photos meet Telegram's photo rules, and how
many samples arrived as they must (a bomb as a document, an APNG as an animation, a
broken MPO as its base JPEG).

``image_rows(work)`` gives the rows (the same fields as ``bench.conformance``'s, plus
the photo and expectation counts), so the images can join the archives' table.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench._common import Check, Result, Table, progress

HEADERS = [
    "format",
    "samples",
    "Pillow decodes",
    "delivered",
    "Pillow fails",
    "clear code",
    "photos ok",
    "as expected",
]


@dataclass(slots=True)
class Row:
    """One format's counts, and the samples that missed, for the notes."""

    section: str
    format: str
    samples: int = 0
    oracle_reads: int = 0  # Pillow decodes every frame
    delivered: int = 0  # of those, arrived
    no_oracle: int = 0  # Pillow cannot decode them
    clear_code: int = 0  # of those, ended with a registered code (or arrived anyway)
    photos: int = 0  # delivered as photos
    photos_ok: int = 0  # of those, within Telegram's photo rules
    expected: int = 0  # samples that must arrive a given way
    as_expected: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.delivered == self.oracle_reads
            and self.clear_code == self.no_oracle
            and self.photos_ok == self.photos
            and self.as_expected == self.expected
        )


def image_rows(work: Path | None = None) -> list[Row]:
    """The image section: the corpus made under ``work`` (else a temporary folder),
    through the engine, judged."""
    from tests.support.image_corpus import run_engine

    if work is None:
        with tempfile.TemporaryDirectory(prefix="ferryman-images-") as tmp:
            return image_rows(Path(tmp))
    outcomes = asyncio.run(run_engine(work))
    rows: dict[str, Row] = {}
    for outcome in outcomes.values():
        sample = outcome.sample
        row = rows.setdefault(sample.fmt, Row("images", sample.fmt))
        row.samples += 1
        missed = False
        if outcome.decodes:
            row.oracle_reads += 1
            row.delivered += outcome.arrived
            missed |= not outcome.arrived
        else:
            row.no_oracle += 1
            row.clear_code += outcome.clear
            missed |= not outcome.clear
        if outcome.arrived and outcome.kind == "photo" and outcome.plan != "document":
            row.photos += 1
            row.photos_ok += not outcome.photo_problems
            missed |= bool(outcome.photo_problems)
        if sample.expect is not None:
            row.expected += 1
            row.as_expected += outcome.as_expected
            missed |= not outcome.as_expected
        if missed:
            problems = f" {list(outcome.photo_problems)}" if outcome.photo_problems else ""
            row.misses.append(outcome.describe() + problems)
    return list(rows.values())


def table(rows: list[Row]) -> Table:
    out = Table(HEADERS)
    for r in rows:
        out.add(
            r.format,
            r.samples,
            r.oracle_reads,
            r.delivered,
            r.no_oracle,
            r.clear_code,
            f"{r.photos_ok}/{r.photos}",
            f"{r.as_expected}/{r.expected}",
        )
    total = Row("images", "all")
    for r in rows:
        for name in ("samples", "oracle_reads", "delivered", "no_oracle", "clear_code"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        for name in ("photos", "photos_ok", "expected", "as_expected"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    out.add(
        "all",
        total.samples,
        total.oracle_reads,
        total.delivered,
        total.no_oracle,
        total.clear_code,
        f"{total.photos_ok}/{total.photos}",
        f"{total.as_expected}/{total.expected}",
    )
    return out


def run(args: argparse.Namespace) -> Result:
    result = Result("conformance-images", "every picture Pillow decodes arrives")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ferryman-images-", dir=args.tmp_dir) as tmp:
        progress("conformance-images: corpus through the engine")
        rows = image_rows(Path(tmp))
    result.tables.append(("per format (oracle: Pillow decodes every frame)", table(rows)))
    for row in rows:
        result.notes.extend(f"{row.format}: {miss}" for miss in row.misses)
    read, delivered = sum(r.oracle_reads for r in rows), sum(r.delivered for r in rows)
    unread, clear = sum(r.no_oracle for r in rows), sum(r.clear_code for r in rows)
    photos, photos_ok = sum(r.photos for r in rows), sum(r.photos_ok for r in rows)
    expected, met = sum(r.expected for r in rows), sum(r.as_expected for r in rows)
    result.checks += [
        Check("decoded by Pillow, delivered", f"{delivered}/{read}", "all", delivered == read),
        Check("decoded by no one, a clear code", f"{clear}/{unread}", "all", clear == unread),
        Check(
            "photos within Telegram's rules", f"{photos_ok}/{photos}", "all", photos_ok == photos
        ),
        Check("arrived as they must", f"{met}/{expected}", "all", met == expected),
    ]
    result.data["images"] = [
        {k: getattr(r, k) for k in ("format", "samples", "oracle_reads", "delivered")}
        | {k: getattr(r, k) for k in ("no_oracle", "clear_code", "photos", "photos_ok")}
        for r in rows
    ]
    result.notes.insert(0, f"corpus made and judged in {time.perf_counter() - started:.0f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    """Print the per-format table (and the misses); 0 when every check passed."""
    parser = argparse.ArgumentParser(prog="python -m bench.conformance_images")
    parser.add_argument("--tmp-dir", type=Path, help="where the corpus and the engine's data go")
    result = run(parser.parse_args(argv))
    print(result.render())
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
