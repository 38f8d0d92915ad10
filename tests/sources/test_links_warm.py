"""A link's child starts with yt-dlp's URL patterns compiled: the child-process template
loads ``links.warm``, which asks each extractor once, so a child forked for a link
(``links.grab``) does not compile ~1,750 patterns again (0.75 -> 0.02 CPU-s a child,
by hand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # a template and a child, each loading yt-dlp


def test_a_links_child_finds_every_extractors_pattern_already_compiled() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.links_warm_child"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    before, after = map(int, done.stdout.split())
    assert after > 1000  # yt-dlp's extractors (1,744 of 1,754 have a pattern in 2026.x)
    assert before == after  # none compiled in the child itself
