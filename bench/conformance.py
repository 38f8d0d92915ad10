"""Conformance with the reference tools: what they read, ferryman delivers byte for byte.

``python -m bench conformance`` makes a corpus of odd archives with every real tool
found here (``tests/support/archive_corpus.py``: bsdtar in each format and filter, GNU tar's
sparse formats, compress, 7zz methods and branch filters, zip writers, ISO, CAB, cpio,
LHA, RPM, SFX stubs, broken ones, and RAR fixtures when present), extracts each with
``bsdtar -x`` (or ``7zz x`` where bsdtar fails), reads each as ferryman's read stage
does, and prints per format: how many the oracle reads, how many ferryman delivers
byte for byte (every file the oracle wrote, at least once), and how many it ends with
a clear code where no oracle reads them.

A section is a function returning ``Row``s per format: archives, then images (Pillow as
the oracle, ``bench/conformance_images.py``, also runnable alone as
``conformance-images``). ``CONFORMANCE_COLLECTION=DIR`` adds a section judging every
file of DIR (another project's test archives: libarchive's ``libarchive/test/*.uu``
uudecoded, say), each in the row of the format its bytes name.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench._common import Check, Result, Table, progress

if TYPE_CHECKING:
    from tests.support.archive_corpus import Sample


@dataclass(slots=True)
class Row:
    """One format's counts, and the samples that missed, for the notes."""

    section: str
    format: str
    samples: int = 0
    oracle_reads: int = 0
    delivered: int = 0
    no_oracle: int = 0
    clear_code: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.delivered == self.oracle_reads and self.clear_code == self.no_oracle


def archive_rows(work: Path) -> list[Row]:
    """The archive section: the corpus made, judged sample by sample."""
    from tests.support.archive_corpus import build_corpus

    return judge_samples("archives", build_corpus(work / "corpus"), work)


def collection_rows(work: Path) -> list[Row]:
    """Files of ``CONFORMANCE_COLLECTION`` (e.g. libarchive's own test archives,
    uudecoded), judged the same way; nothing when it is not set."""
    from tests.support.archive_corpus import collection

    folder = os.environ.get("CONFORMANCE_COLLECTION")
    if not folder:
        return []
    return judge_samples("collection", collection(Path(folder)), work)


def judge_samples(section: str, samples: list[Sample], work: Path) -> list[Row]:
    from tests.support.archive_corpus import judge

    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Row] = {}
    for number, sample in enumerate(samples, 1):
        started = time.perf_counter()
        outcome = judge(sample, work)
        verdict = "ok" if outcome.byte_for_byte or outcome.clear_code else "MISS"
        progress(
            f"{section} {number}/{len(samples)} {sample.path.name}: {verdict}"
            f" ({time.perf_counter() - started:.1f} s)"
        )
        row = rows.setdefault(sample.row, Row(section, sample.row))
        row.samples += 1
        if outcome.oracle is not None:
            row.oracle_reads += 1
            row.delivered += outcome.byte_for_byte
        else:
            row.no_oracle += 1
            row.clear_code += outcome.clear_code
        if not (outcome.byte_for_byte or outcome.clear_code):
            row.misses.append(outcome.describe())
    return sorted(rows.values(), key=lambda r: r.format)


def image_rows(work: Path) -> list[Row]:
    """The image section (``bench/conformance_images.py``): Pillow is the oracle; its rows
    carry the same counts, and the photos' Telegram rules besides."""
    from bench.conformance_images import image_rows as rows

    return rows(work)  # type: ignore[return-value]  # the same fields, and more


SECTIONS: dict[str, Callable[[Path], list[Row]]] = {
    "archives": archive_rows,
    "images": image_rows,
    "collection": collection_rows,
}


def run(args: argparse.Namespace) -> Result:
    result = Result("conformance", "what the reference tools read, delivered byte for byte")
    table = Table(
        ["section", "format", "samples", "oracle reads", "delivered", "no oracle", "clear code"]
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ferryman-conformance-", dir=args.tmp_dir) as tmp:
        for name, section in SECTIONS.items():
            progress(f"conformance: {name}")
            rows = section(Path(tmp) / name)
            if not rows:
                continue
            for row in rows:
                table.add(
                    row.section,
                    row.format,
                    row.samples,
                    row.oracle_reads,
                    row.delivered,
                    row.no_oracle,
                    row.clear_code,
                )
                result.notes.extend(f"{row.format}: {miss}" for miss in row.misses)
            read = sum(r.oracle_reads for r in rows)
            delivered = sum(r.delivered for r in rows)
            unread = sum(r.no_oracle for r in rows)
            clear = sum(r.clear_code for r in rows)
            result.checks.append(
                Check(
                    f"{name}: read by the oracle, delivered",
                    f"{delivered}/{read}",
                    "all",
                    delivered == read,
                )
            )
            result.checks.append(
                Check(
                    f"{name}: read by no oracle, a clear code",
                    f"{clear}/{unread}",
                    "all",
                    clear == unread,
                )
            )
            if all(hasattr(r, "photos_ok") for r in rows):  # images: Telegram's photo rules
                photos = sum(getattr(r, "photos", 0) for r in rows)
                fit = sum(getattr(r, "photos_ok", 0) for r in rows)
                result.checks.append(
                    Check(
                        f"{name}: photos within Telegram's rules",
                        f"{fit}/{photos}",
                        "all",
                        fit == photos,
                    )
                )
            result.data[name] = [
                {
                    k: getattr(r, k)
                    for k in (
                        "format",
                        "samples",
                        "oracle_reads",
                        "delivered",
                        "no_oracle",
                        "clear_code",
                    )
                }
                for r in rows
            ]
    result.tables.append(("per format (oracle: bsdtar -x, else 7zz x)", table))
    result.notes.insert(0, f"corpus made and judged in {time.perf_counter() - started:.0f} s")
    return result
