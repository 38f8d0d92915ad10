"""httpx without its command line's imports until that command line is used.

httpx 0.28's ``__init__`` imports its CLI (``httpx._main``: click, rich's console,
syntax and progress, pygments' lexers) whenever they are installed, as they are beside
ferryman's typer: ~5 MB and 0.1-0.3 s in every process that imports httpx, the engine's
included (encode/httpx#3547, not released). ``install`` (from ``ferryman/__init__``,
before any of ferryman's modules can import httpx) puts a finder first on
``sys.meta_path`` that answers for ``httpx._main`` alone with a light module: its
``main`` loads the real module when called, and so does reading any other of its
names; from then on ``httpx.main`` and ``httpx._main`` are httpx's own. Nothing else
of httpx changes.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

CLI = "httpx._main"


class _LazyCli:
    """The finder and loader of the light ``httpx._main`` (``importlib.abc``'s
    protocols, not its classes: importing it loads ``importlib.resources``)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != CLI:
            return None
        return importlib.machinery.ModuleSpec(fullname, cast("Loader", self))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        setattr(module, "main", main)  # noqa: B010
        setattr(module, "__getattr__", _attribute)  # noqa: B010 (PEP 562, not a method)


def main(*args: Any, **kwargs: Any) -> Any:
    """httpx's command line (``httpx.main``), loaded now."""
    return real_cli().main(*args, **kwargs)


def _attribute(name: str) -> Any:
    """Any other name loads the real module; the import system's own questions
    (``__path__``, ``__file__``...) are answered as of a light module."""
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    return getattr(real_cli(), name)


def real_cli() -> ModuleType:
    """httpx's own ``_main``, loaded by the path finder (not this one) in place of the
    light module, and bound where an import binds it (``httpx._main``, ``httpx.main``)."""
    loaded = sys.modules.get(CLI)
    light = loaded is not None and isinstance(getattr(loaded.__spec__, "loader", None), _LazyCli)
    if loaded is not None and not light:
        return loaded
    httpx = sys.modules["httpx"]
    spec = importlib.machinery.PathFinder.find_spec(CLI, httpx.__path__)
    if spec is None or spec.loader is None:
        raise ImportError(f"no {CLI}", name=CLI)
    module = importlib.util.module_from_spec(spec)
    sys.modules[CLI] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if loaded is not None:
            sys.modules[CLI] = loaded
        else:
            del sys.modules[CLI]
        raise
    setattr(httpx, "_main", module)  # noqa: B010 (not httpx's typed names)
    setattr(httpx, "main", module.main)  # noqa: B010
    return module


def install() -> None:
    """Put the finder first on ``sys.meta_path``, once a process (a no-op after)."""
    if not any(isinstance(finder, _LazyCli) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LazyCli())
