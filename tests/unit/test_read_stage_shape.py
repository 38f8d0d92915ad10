"""The read stage's shape: typed throughout (no ``Any`` in ``engine/read``) and no call
there with more than five positional arguments (the read loop once passed nine, a bare
``None`` among them, to a callback through ``reader.step``)."""

from __future__ import annotations

import ast
from pathlib import Path

import ferryman.engine.read

READ = Path(ferryman.engine.read.__file__).parent
MAX_POSITIONAL = 5


def _trees() -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text(), str(p)) for p in sorted(READ.glob("*.py"))}


def test_the_read_package_names_no_any() -> None:
    found = []
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            named = (isinstance(node, ast.Name) and node.id == "Any") or (
                isinstance(node, ast.Attribute) and node.attr == "Any"
            )
            imported = isinstance(node, ast.ImportFrom) and any(a.name == "Any" for a in node.names)
            if named or imported:
                found.append(f"{name}:{node.lineno}")
    assert not found, found


def test_no_call_in_the_read_package_takes_more_than_five_positional_arguments() -> None:
    found = [
        f"{name}:{node.lineno} ({len(node.args)})"
        for name, tree in _trees().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and len(node.args) > MAX_POSITIONAL
    ]
    assert not found, found
