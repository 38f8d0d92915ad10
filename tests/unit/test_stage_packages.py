"""Each stage package (``engine/fetch``, ``read``, ``convert``, ``deliver``, ``watch``)
is entered through its package: the pipeline lists each one's ``STAGE``, and whoever
else needs the stage (the runner, start-up, an operation) imports what the package
exports, never one of its modules, so a stage's modules can be cut or renamed freely."""

from __future__ import annotations

import ast
from pathlib import Path

from ferryman.engine import convert, deliver, fetch, pipeline, read

SRC = Path(__file__).resolve().parents[2] / "src" / "ferryman"
STAGES = ("fetch", "read", "convert", "deliver", "watch")


def _imports_of_stage_modules(path: Path) -> list[str]:
    """The stage modules (``ferryman.engine.<stage>.<module>``) a file imports, also as
    ``from ferryman.engine.<stage> import <module>``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[:2] == ["ferryman", "engine"] and len(parts) > 3 and parts[2] in STAGES:
                found.append(node.module)
            elif parts[:2] == ["ferryman", "engine"] and len(parts) == 3 and parts[2] in STAGES:
                package = SRC / "engine" / parts[2]
                found += [
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if (package / f"{alias.name}.py").exists()
                ]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[:2] == ["ferryman", "engine"] and len(parts) > 3 and parts[2] in STAGES:
                    found.append(alias.name)
    return found


def test_no_module_outside_a_stage_imports_its_modules() -> None:
    crossing = {}
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC).parts
        home = relative[1] if relative[0] == "engine" and len(relative) > 2 else None
        found = [m for m in _imports_of_stage_modules(path) if m.split(".")[2] != home]
        if found:
            crossing[str(path.relative_to(SRC))] = found
    assert crossing == {}


def test_the_pipeline_lists_each_stage_packages_stage() -> None:
    listed = pipeline.PIPELINE
    for package in (fetch, read, deliver, convert):
        assert package.STAGE in listed
    assert pipeline.STAGES == ("fetch", "read", "deliver", "convert", "watch")
