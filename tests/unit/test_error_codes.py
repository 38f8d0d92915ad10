"""Every error code the code raises, builds or compares with is registered, with a next
step; an unknown code is a bug, not a retry.

The scan reads ``src/ferryman`` as syntax trees. A code reaches ``FerrymanError`` (or a
subclass) as a literal, a parameter (its default and every literal a caller passes), a
local name, a loop over a module-level table, or ``FerrymanError.internal``. A code
expression it cannot follow fails the test unless ``PASS_THROUGH`` says why it need not.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import ferryman
from ferryman.error_codes import SPECS
from ferryman.errors import (
    ERRORS,
    FerrymanError,
    UnregisteredCodeWarning,
    spec_for,
)
from tests.support.once import built_once

SRC = Path(ferryman.__file__).parent
CLI_DOC = SRC.parents[1] / "docs" / "cli.md"
CODE_SHAPE = re.compile(r"^[a-z]+(\.[a-z_]+)+$")  # area.what, or area.sub.what (source.http.status)

# (module, function) whose code argument carries a code some other FerrymanError had.
PASS_THROUGH = {
    ("media/child.py", "_raise_for"): "a child process's FerrymanError, re-raised as it was",
    ("media/box/pool.py", "_result"): "a media worker's FerrymanError, re-raised as it was",
    ("archive/box/wire.py", "decode_error"): "libarchive's child's error, a registered"
    " archive.*/source.* code only (checked there), re-raised as it was",
    ("sources/batch.py", "_read_one"): "an input's FerrymanError, recorded beside its"
    " fetched files when it failed and raised again as it was",
}


@dataclass
class Scan:
    codes: dict[str, list[str]] = field(default_factory=dict)  # code -> where
    unresolved: list[str] = field(default_factory=list)

    def add(self, code: object, where: str) -> None:
        if isinstance(code, str):
            self.codes.setdefault(code, []).append(where)
        else:
            self.unresolved.append(f"{where}: not a string: {code!r}")


@dataclass(frozen=True)
class Module:
    rel: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST]

    def enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return None

    def enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.ClassDef):
                return node
        return None

    def module_value(self, name: str) -> ast.expr | None:
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets
            ):
                return node.value
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.target.id == name
            ):
                return node.value
        return None


def _modules() -> list[Module]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        found.append(Module(path.relative_to(SRC).as_posix(), tree, parents))
    return found


def _error_classes(modules: list[Module]) -> dict[str, bool]:
    """FerrymanError and every class derived from it, by name: does its constructor take
    the code (else it passes its own to ``super().__init__``, scanned there)."""
    takes = {"FerrymanError": True}
    while True:
        more = {}
        for m in modules:
            for node in ast.walk(m.tree):
                if not isinstance(node, ast.ClassDef) or node.name in takes:
                    continue
                parents = [takes[n] for b in node.bases if (n := _name(b)) in takes]
                if not parents:
                    continue
                init = next(
                    (
                        f
                        for f in node.body
                        if isinstance(f, ast.FunctionDef) and f.name == "__init__"
                    ),
                    None,
                )
                own = [a.arg for a in init.args.args[1:2]] if init else None
                more[node.name] = parents[0] if own is None else own == ["code"]
        if not more:
            return takes
        takes |= more


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _strings(node: ast.AST) -> Iterator[str]:
    """Code-shaped literals anywhere inside ``node`` (a table of codes)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield from ([sub.value] if CODE_SHAPE.match(sub.value) else [])


def _calls_to(modules: list[Module], function: str) -> Iterator[tuple[Module, ast.Call]]:
    for m in modules:
        for node in ast.walk(m.tree):
            if isinstance(node, ast.Call) and _name(node.func) == function:
                yield m, node


def _resolve(
    m: Module, at: ast.AST, expr: ast.expr, modules: list[Module], scan: Scan, where: str
) -> None:
    """Record the codes ``expr`` (the code argument of an error at ``at``) can hold."""
    if isinstance(expr, ast.Constant):
        scan.add(expr.value, where)
        return
    if _resolve_choice(m, at, expr, modules, scan, where):
        return
    if isinstance(expr, ast.Call) and _resolve_returns(m, _name(expr.func), modules, scan, where):
        return
    if isinstance(expr, ast.Attribute) and expr.attr == "code":
        return  # another error's code, passed on: scanned where that error was made
    function = m.enclosing_function(at)
    if isinstance(expr, ast.Name) and function is not None:
        if function.name == "__init__" and expr.id in {a.arg for a in function.args.args}:
            return  # a subclass handing its caller's code on: its callers are scanned
        if _resolve_parameter(function, expr.id, modules, scan, where):
            return
        if _resolve_local(m, function, expr.id, modules, scan, where):
            return
    if isinstance(expr, ast.Name) and _resolve_constant(m, expr.id, modules, scan, where):
        return
    if function is not None and (m.rel, function.name) in PASS_THROUGH:
        return
    scan.unresolved.append(f"{where}: {ast.unparse(expr)}")


def _resolve_choice(
    m: Module, at: ast.AST, expr: ast.expr, modules: list[Module], scan: Scan, where: str
) -> bool:
    """A code chosen in one expression: ``a if c else b``, ``a or b``, ``TABLE.get(k,
    default)``, ``next((c for … in TABLE …), default)``. A ``None`` among the choices is
    not followed: the code parameter is a ``str`` (mypy --strict), so a None is replaced
    before the raise (``if code is None: code = …``)."""

    def each(value: ast.expr) -> None:
        if not (isinstance(value, ast.Constant) and value.value is None):
            _resolve(m, at, value, modules, scan, where)

    def table(node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            node = m.module_value(node.id) or node
        codes = list(_strings(node))
        assert codes, f"{where}: no codes in the table {ast.unparse(node)}"
        for code in codes:
            scan.add(code, f"{where} (table)")

    if isinstance(expr, ast.IfExp):
        each(expr.body)
        each(expr.orelse)
        return True
    if isinstance(expr, ast.BoolOp):
        for value in expr.values:
            each(value)
        return True
    got = expr.func if isinstance(expr, ast.Call) else None
    looked_up = isinstance(got, ast.Attribute) and got.attr == "get"
    if looked_up and isinstance(got, ast.Attribute) and isinstance(got.value, ast.Name | ast.Dict):
        assert isinstance(expr, ast.Call)
        table(got.value)
        for default in expr.args[1:]:
            each(default)
        return True
    if isinstance(expr, ast.Call) and _name(expr.func) == "next" and expr.args:
        generator = expr.args[0]
        if isinstance(generator, ast.GeneratorExp):
            for loop in generator.generators:
                table(loop.iter)
            for default in expr.args[1:]:
                each(default)
            return True
    return False


def _resolve_parameter(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    name: str,
    modules: list[Module],
    scan: Scan,
    where: str,
) -> bool:
    params = [*function.args.posonlyargs, *function.args.args]
    names = [p.arg for p in params]
    kwonly = [p.arg for p in function.args.kwonlyargs]
    if name not in names and name not in kwonly:
        return False
    if name in names:
        defaults = function.args.defaults
        index = names.index(name)
        first_default = len(names) - len(defaults)
        if index >= first_default:
            scan.add(_literal(defaults[index - first_default]), f"{where} (default)")
    else:
        default = function.args.kw_defaults[kwonly.index(name)]
        if default is not None:
            scan.add(_literal(default), f"{where} (default)")
    for caller, call in _calls_to(modules, function.name):
        site = f"{caller.rel}:{call.lineno} -> {where}"
        passed = [k.value for k in call.keywords if k.arg == name]
        if name in names and not passed:
            index = names.index(name) - (1 if names[:1] in (["self"], ["cls"]) else 0)
            if index < len(call.args):
                passed = [call.args[index]]
        for value in passed:
            _resolve(caller, call, value, modules, scan, site)
    return True


def _definition(
    m: Module, function: str | None, modules: list[Module]
) -> tuple[Module, ast.FunctionDef] | None:
    """Where ``function``, called in ``m``, is defined: in ``m`` or where ``m`` imports it from."""
    by_rel = {x.rel: x for x in modules}
    homes = [m]
    for node in m.tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("ferryman.")
            and any((a.asname or a.name) == function for a in node.names)
        ):
            rel = node.module.removeprefix("ferryman.").replace(".", "/")
            homes = [x for x in (by_rel.get(f"{rel}.py"), by_rel.get(f"{rel}/__init__.py")) if x]
    for home in homes:
        for node in home.tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == function:
                return home, node
    return None


def _resolve_constant(m: Module, name: str, modules: list[Module], scan: Scan, where: str) -> bool:
    """A module-level constant, in ``m`` or imported into it."""
    value = m.module_value(name)
    if value is None:
        by_rel = {x.rel: x for x in modules}
        for node in m.tree.body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and any((a.asname or a.name) == name for a in node.names)
            ):
                home = by_rel.get(node.module.removeprefix("ferryman.").replace(".", "/") + ".py")
                value = home.module_value(name) if home else None
    if not isinstance(value, ast.Constant):
        return False
    scan.add(value.value, f"{where} ({name})")
    return True


def _resolve_returns(
    m: Module, function: str | None, modules: list[Module], scan: Scan, where: str
) -> bool:
    """A code a function returns (``classify(message)``): what each ``return`` can hold."""
    found = _definition(m, function, modules)
    if found is None:
        return False
    home, definition = found
    for ret in ast.walk(definition):
        if isinstance(ret, ast.Return) and ret.value is not None:
            _resolve(home, ret, ret.value, modules, scan, f"{where} <- {home.rel}:{function}")
    return True


def _resolve_local(
    m: Module,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    name: str,
    modules: list[Module],
    scan: Scan,
    where: str,
) -> bool:
    """A name bound in the function: by assignment, or as a loop over a module table."""
    found = False
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            _resolve(m, node, node.value, modules, scan, where)
            found = True
        if isinstance(node, ast.For) and name in {
            n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)
        }:
            table = node.iter
            if isinstance(table, ast.Name):
                table = m.module_value(table.id) or table
            codes = list(_strings(table))
            assert codes, f"{where}: no codes in the table {ast.unparse(node.iter)}"
            for code in codes:
                scan.add(code, f"{where} (table {ast.unparse(node.iter)})")
            found = True
    return found


def _literal(node: ast.expr) -> object:
    return node.value if isinstance(node, ast.Constant) else ast.unparse(node)


def _comparisons(m: Module, scan: Scan) -> None:
    """``error.code == "x.y"`` / ``code in (...)`` / ``== _NAME``: codes the code tests for."""
    for node in ast.walk(m.tree):
        if not isinstance(node, ast.Compare) or _name(node.left) != "code":
            continue
        for right in node.comparators:
            if isinstance(right, ast.Name):
                right = m.module_value(right.id) or right
            for code in _strings(right):
                scan.add(code, f"{m.rel}:{node.lineno} (compared)")


def scan_source() -> Scan:
    modules = _modules()
    classes = _error_classes(modules)
    scan = Scan()
    for m in modules:
        _comparisons(m, scan)
        for node in ast.walk(m.tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{m.rel}:{node.lineno}"
            callee = _name(node.func)
            if (
                callee == "internal"
                and isinstance(node.func, ast.Attribute)
                and _name(node.func.value) in classes
            ):
                scan.add("engine.internal", where)
                continue
            if callee == "__init__" and isinstance(node.func, ast.Attribute):
                inside = m.enclosing_class(node)
                subclass = inside is not None and inside.name in classes
                if subclass and inside.name != "FerrymanError" and node.args:
                    _resolve(m, node, node.args[0], modules, scan, where)
                continue
            if callee not in classes or not classes[callee]:
                continue
            given = [k.value for k in node.keywords if k.arg == "code"] or node.args[:1]
            if given:
                _resolve(m, node, given[0], modules, scan, where)
    return scan


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    # Seconds of parsing: once per run, not once per xdist worker.
    return built_once(tmp_path_factory, "error-code-scan", lambda _folder: scan_source())


@pytest.mark.slow  # over 3 s: a scan of all the source
def test_every_code_the_code_uses_is_registered(scan: Scan) -> None:
    unknown = {code: where for code, where in scan.codes.items() if code not in ERRORS}
    assert not unknown, f"register these in ferryman/error_codes.py: {unknown}"
    assert not scan.unresolved, f"codes the scan cannot follow: {scan.unresolved}"


@pytest.mark.slow  # over 3 s: a scan of all the source
def test_the_scan_follows_every_way_a_code_travels(scan: Scan) -> None:
    """Each route the scan claims to follow found at least the code known to take it."""
    expected = {
        "engine.internal": "FerrymanError.internal",
        "telegram.banned": "telegram/errors.py's table",
        "telegram.flood_wait": "a subclass (TelegramWait)",
        "media.convert_failed": "a parameter's default",
        "telegram.password_invalid": "a literal a caller passes for a parameter",
        "archive.password_required": "a comparison with a module constant",
        "source.not_found": "a literal",
        "engine.lease_lost": "a subclass's own code (LeaseLost)",
        "archive.unsupported": "a module constant (opener._UNSUPPORTED)",
        "archive.entry_corrupt": "libarchive.messages' table, through classify's return",
    }
    missing = {code: how for code, how in expected.items() if code not in scan.codes}
    assert not missing, missing
    assert len(scan.codes) >= 30, sorted(scan.codes)


def test_every_registered_code_is_well_formed_once_with_a_next_step() -> None:
    assert len(SPECS) == len(ERRORS), "a code is registered twice"
    for spec in SPECS:
        assert CODE_SHAPE.match(spec.code), spec.code
        assert len(spec.next_step) > 20 and spec.next_step.endswith((".", ")")), spec.code
        assert not spec.fails_entry or spec.ends_input, spec.code


def test_which_codes_end_an_input_and_which_fail_an_entry_alone() -> None:
    """The two sets the engine and the local source used to keep apart, now one table:
    a limit ends the input but never fails a nested archive alone."""
    ends = {s.code for s in SPECS if s.ends_input}
    alone = {s.code for s in SPECS if s.fails_entry}
    assert ends == {
        "archive.truncated",
        "archive.unreadable",
        "archive.limit_exceeded",
        "archive.volume_missing",
        "source.http.replaced",  # a link read in place that changed: the first file stays
        "archive.unsupported",
        "archive.decoder_failed",  # libarchive's child stalled or died, and 7zz failed too
    }
    assert alone == ends - {"archive.limit_exceeded", "source.http.replaced"}
    assert FerrymanError("archive.truncated", "x").fails_entry
    assert not FerrymanError("archive.limit_exceeded", "x").fails_entry
    assert not FerrymanError("archive.password_required", "x").ends_input


def test_an_unknown_code_is_a_bug_not_a_retry(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="ferryman.errors"):
        spec = spec_for("no.such_code")
    assert not spec.retryable and not spec.ends_input and not spec.fails_entry
    assert "bug" in spec.next_step and "report" in spec.next_step
    assert any("no.such_code" in r.getMessage() for r in caplog.records)
    with pytest.warns(UnregisteredCodeWarning, match="no.such_code"):
        error = FerrymanError("no.such_code", "made up")
    assert not error.retryable


def test_the_cli_doc_names_only_registered_codes() -> None:
    text = CLI_DOC.read_text()
    start = text.index("Errors carry a code")
    paragraph = text[start : text.index("\n\n", start)]
    named = re.findall(r"`([a-z]+\.[a-z_]+)`", paragraph)
    assert len(named) >= 10, paragraph
    assert [code for code in named if code not in ERRORS] == []
