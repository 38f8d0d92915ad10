"""One concern per module: a module in ``src/`` over 500 lines is one whose single
concern docs/architecture.md defends ("One concern per module"), or it is split."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
DOC = ROOT / "docs" / "architecture.md"
LIMIT = 500
# Over the limit, with more than one concern, and changed by other work when the rest
# were split (issue 32): each goes once it is split. Kept over the limit by the test,
# so a split one leaves this list too.
PENDING: set[str] = set()


def _defended() -> set[str]:
    doc = DOC.read_text()
    section = doc[doc.index("### One concern per module") :]
    section = section[: section.index("\n## ", 1)]
    return {f"ferryman/{name}" for name in re.findall(r"^\| `([\w/]+\.py)` \|", section, re.M)}


def test_no_module_is_over_the_limit_unless_its_one_concern_is_defended() -> None:
    long = {
        str(path.relative_to(SRC)): n
        for path in SRC.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > LIMIT
    }
    defended = _defended()
    assert defended  # the table is read
    assert {name: n for name, n in long.items() if name not in defended | PENDING} == {}
    assert sorted(PENDING - set(long)) == []  # split now: off the list
