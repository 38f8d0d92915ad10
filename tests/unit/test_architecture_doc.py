"""docs/architecture.md is a map that cannot drift: its layer map names every module,
under its package (a newcomer finds any module there in one step, and a module added
without a line fails here); its pipeline is the one ``engine/pipeline.py`` draws; it
stays short enough to be read as a map."""

from __future__ import annotations

import re
from pathlib import Path

from ferryman.engine import pipeline

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "ferryman"
DOC = ROOT / "docs" / "architecture.md"


def _sections() -> dict[str, str]:
    """The map's text per package (``engine``, ``frontdoors/telegram``; ``""``: top)."""
    doc = DOC.read_text()
    start = doc.index("```\nsrc/ferryman/\n")
    block = doc[start : doc.index("```\n", start + 4)]
    sections: dict[str, str] = {"": ""}
    current = ""
    for line in block.splitlines()[2:]:
        named = re.match(r"  (\S+)/\s", line)
        if named:
            current = named.group(1)
            sections[current] = line
        elif line.startswith("  ") and not line.startswith("   "):
            current = ""
            sections[""] += " " + line
        else:
            sections[current] = sections.get(current, "") + " " + line
    return sections


def test_every_module_is_in_the_layer_map_under_its_package() -> None:
    sections, doc = _sections(), DOC.read_text()
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if path.stem == "__init__":
            continue
        package = "/".join(rel.parts[:-1])
        if package == "store/migrations":  # each frozen step is named in "Migrations"
            found = re.search(rf"\b{path.stem}\b", doc)
        else:
            found = re.search(rf"\b{re.escape(path.stem)}\b", sections.get(package, ""))
        if not found:
            missing.append(str(rel))
    assert missing == []


def test_the_check_reads_the_map() -> None:
    sections = _sections()
    assert "runner" in sections["engine"] and "door" in sections["frontdoors/telegram"]
    assert "runner" not in sections["web"]


def test_the_drawn_pipeline_is_the_one_pipeline_py_draws() -> None:
    doc = DOC.read_text()
    start = doc.index("<!-- pipeline: generated -->\n") + len("<!-- pipeline: generated -->\n")
    drawn = doc[start : doc.index("<!-- /pipeline -->")]
    assert drawn == pipeline.draw()  # else paste `python -m ferryman.engine.pipeline`
    assert all(f"| `{stage.name}` |" in drawn for stage in pipeline.PIPELINE)


def test_the_map_stays_a_map() -> None:
    assert len(DOC.read_text().splitlines()) <= 300
