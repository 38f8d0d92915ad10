"""Each stage and each front door sees only its part of the store (``store/ports``): its
module names its own port and never the whole ``Store``, so mypy --strict holds it to
that port. Only the modules that open the store hold it whole; the engine takes it as
``EngineStore`` (``store/engine_store``), which the memory store keeps as well."""

from __future__ import annotations

import ast
from pathlib import Path

from ferryman.store import engine_store, ports
from ferryman.store.memory.store import MemoryStore
from ferryman.store.store import Store

SRC = Path(__file__).resolve().parents[2] / "src" / "ferryman"
ENGINE = SRC / "engine"

# module (under engine/) -> the only store views it may name
STAGES = {
    "fetch/step": {"fetch_store"},
    "read/step": {"read_store"},
    "read/entry_batch": {"read_store"},
    "read/write_wait": {"read_store"},
    "read/bad_input": {"read_store"},
    "convert/step": {"convert_store"},
    "deliver/step": {"deliver_store"},
    "deliver/lookahead": {"deliver_store"},
    "deliver/worker": {"deliver_store"},
    "watch/check": {"WatchStore"},
    "notify": {"notice_store"},
    "plumbing/destination": {"sink_states"},
    "plumbing/leases": {"Leaseholder"},
    "ops/control": {"Control"},
    "ops/report": {"JobsView"},
    "ops/intake": {"Intake"},
}
VIEWS = {
    "fetch_store",
    "read_store",
    "convert_store",
    "deliver_store",
    "watch_store",
    "notice_store",
    "sink_states",
}
# The engine's modules that may hold the whole store (as ``EngineStore``): the runner
# runs it and hands each part its port, through the Context's views.
WHOLE = {"runner", "context"}
# The front doors' modules (under src/ferryman/) -> the only ports they may name.
DOORS = {
    "engine/ops/control": {"Control"},
    "engine/ops/report": {"JobsView"},
    "engine/ops/password_check": {"JobsView"},
    "engine/ops/intake": {"Intake"},
    "engine/ops/nodes": {"Nodes"},
    "engine/ops/runtime_config": {"RuntimeSettings"},
    "engine/ops/watch_admin": {"WatchAdmin"},
    "web/core": {"WebDoor"},
    "web/server": {"WebDoor"},
    "web/live": {"LiveJobs"},
    "web/kept_progress": {"ShownBars"},
    "frontdoors/cli/work": {"AddDoor"},
    "frontdoors/cli/status": {"StatusDoor"},
    "frontdoors/cli/job": {"Control", "LinksDoor", "RetryDoor", "JobDoor"},
    "frontdoors/cli/watch": {"WatchAdmin"},
    "frontdoors/cli/nodes": {"Nodes"},
    "frontdoors/cli/config": {"RuntimeSettings"},
    "frontdoors/cli/run": {"JobsView", "Nodes"},
    "frontdoors/cli/follow": {"JobsView", "Nodes"},
    "frontdoors/demo": {"JobsView"},
    "frontdoors/chat_demo_steps": {"JobsView"},
    "frontdoors/telegram/callbacks": {"ChatDoor"},
    "frontdoors/telegram/cleanup": {"ChatCleanup"},
    "frontdoors/telegram/commands": {"ChatDoor"},
    "frontdoors/telegram/door": {"ChatDoor"},
    "frontdoors/telegram/inbox": {"ChatDoor"},
    "frontdoors/telegram/status": {"ChatStatus"},
    "frontdoors/telegram/user_settings": {"ChatSettings"},
}
# The modules that still name the whole ``Store``, and why: each opens it or starts the
# engine on it (the engine's stages then get their ports through the Context).
WHOLE_STORE = {
    "frontdoors/cli/store": "opens the store for a command, which takes its port",
    "frontdoors/cli/web": "opens the store for the web app and the engine beside it",
    "frontdoors/startup": "opens the store and the engine (``run``, ``demo``)",
    "frontdoors/telegram/serve": "starts the engine beside the chat door",
    "store/__init__": "exports it",
}
PORTS = {
    name
    for name, obj in vars(ports).items()
    if isinstance(obj, type) and obj.__module__ == ports.__name__
}


def _names(tree: ast.AST) -> set[str]:
    """Every name and attribute the module uses."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.asname or node.name.rsplit(".", 1)[-1])
    return found


def _engine_module(name: str) -> Path:
    """A module of the engine, by its path under ``engine/`` without ``.py``."""
    return ENGINE / f"{name}.py"


def test_each_stage_module_names_only_its_port() -> None:
    wrong: dict[str, set[str]] = {}
    for module, allowed in STAGES.items():
        used = _names(ast.parse(_engine_module(module).read_text()))
        named = used & (VIEWS | PORTS)
        if "Store" in used or named != allowed:
            wrong[module] = named
    assert wrong == {}


def test_each_door_module_names_only_its_ports() -> None:
    wrong: dict[str, set[str]] = {}
    for module, allowed in DOORS.items():
        used = _names(ast.parse((SRC / f"{module}.py").read_text()))
        named = used & (PORTS | {"Store"})
        if named != allowed:
            wrong[module] = named
    assert wrong == {}


def test_only_the_modules_that_open_the_store_name_it_whole() -> None:
    """Every module outside ``store/`` that names ``Store`` is one of those that open
    it or start the engine; a door that takes it whole again fails here."""
    whole = set()
    for path in sorted(SRC.rglob("*.py")):
        module = str(path.relative_to(SRC).with_suffix(""))
        if module.startswith("store/") and module != "store/__init__":
            continue
        if "Store" in _names(ast.parse(path.read_text())):
            whole.add(module)
    assert whole == set(WHOLE_STORE)


def test_the_engine_takes_either_store_as_one_protocol() -> None:
    """The engine names ``EngineStore``, never the SQL ``Store``; both stores keep every
    method of it (mypy proves the signatures at the foot of ``store/store`` and
    ``store/memory``), and no test passes a store past the type checker."""
    named = {
        str(path.relative_to(ENGINE).with_suffix(""))
        for path in sorted(ENGINE.rglob("*.py"))
        if "EngineStore" in _names(ast.parse(path.read_text()))
    }
    assert named == WHOLE | {"runner"}
    members = {m for m in dir(engine_store.EngineStore) if not m.startswith("_")}
    assert members <= set(dir(Store)) and members <= set(dir(MemoryStore))
    ignored = [
        f"{path.name}:{n}"
        for root in (SRC, SRC.parents[1] / "tests")
        for path in sorted(root.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "type: ignore[" in line
        and any(code in line for code in ("[assignment]", "[arg-type]"))
        and "Store" in line
    ]
    assert ignored == []


def test_no_engine_module_reaches_the_whole_store_through_its_context() -> None:
    """``ctx.store`` is the whole store: a stage, the notifier, a route ask for their
    view (``ctx.read_store``, ``ctx.sink_states``); only the runner holds the store."""
    reached = []
    modules = [
        str(path.relative_to(ENGINE).with_suffix(""))
        for path in sorted(ENGINE.rglob("*.py"))
        if path.stem not in WHOLE
    ]
    assert set(STAGES) <= set(modules)
    for module in modules:
        tree = ast.parse(_engine_module(module).read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "store"
                and isinstance(node.value, ast.Name | ast.Attribute)
                and (getattr(node.value, "id", "") or getattr(node.value, "attr", "")).endswith(
                    "ctx"
                )
            ):
                reached.append(f"{module}:{node.lineno}")
    assert reached == []


def test_the_ports_are_narrow() -> None:
    """A port that grew to the whole store would make the checks above say nothing."""
    store_methods = set(dir(Store))
    stages = ("FetchStore", "ReadStore", "ConvertStore", "DeliverStore", "WatchStore")
    for name in (*stages, "NoticeStore", "SinkStates"):
        members = {m for m in dir(getattr(ports, name)) if not m.startswith("_")}
        assert members <= store_methods and len(members) < len(store_methods) / 3, name
    for name in sorted({port for allowed in DOORS.values() for port in allowed}):
        members = {m for m in dir(getattr(ports, name)) if not m.startswith("_")}
        assert members <= store_methods and len(members) < len(store_methods) / 2, name
