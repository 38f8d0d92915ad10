"""SQLAlchemy's asyncio engine, without the ORM its package loads.

``sqlalchemy.ext.asyncio``'s ``__init__`` imports its ``AsyncSession``, and with it all
of ``sqlalchemy.orm``: ~0.1 CPU-s, a tenth of each ``ferryman run``'s start (hundreds
of them in the tests), for a session the store never opens (it speaks Core through
``AsyncEngine`` and ``AsyncConnection``). So the store takes them from here: the package
is put in ``sys.modules`` without running its ``__init__``, its submodules load as
usual, and the first name asked of it that is not the engine's (an ``AsyncSession``, a
test's or an embedder's) runs that ``__init__`` then, on the same module: nothing
changes for them but when the ORM loads. Where the package was loaded already, it is
used as it is.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys

import sqlalchemy.ext
from sqlalchemy.util import concurrency

_PACKAGE = "sqlalchemy.ext.asyncio"


def _light_package() -> None:
    """The package in ``sys.modules``, its ``__init__`` run only when a name of its
    own is first asked for (``_whole``)."""
    if _PACKAGE in sys.modules:
        return
    spec = importlib.machinery.PathFinder.find_spec(_PACKAGE, list(sqlalchemy.ext.__path__))
    if spec is None or spec.loader is None:  # never on an installed SQLAlchemy
        importlib.import_module(_PACKAGE)
        return
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def _whole(name: str) -> object:
        if name.startswith("__"):  # the import machinery's probes: not the package's names
            raise AttributeError(name)
        inner = f"{_PACKAGE}.{name}"
        if importlib.machinery.PathFinder.find_spec(inner, package.__path__) is not None:
            return importlib.import_module(inner)  # a submodule (``from . import exc``)
        del package.__dict__["__getattr__"]
        loader.exec_module(package)  # the package's own __init__, the ORM with it
        return getattr(package, name)

    # What the package's __init__ does first: fail now where greenlet is missing. A
    # SQLAlchemy whose insides moved (this is not its API) gets the plain import.
    try:
        concurrency._concurrency_shim._initialize()
    except AttributeError:
        importlib.import_module(_PACKAGE)
        return
    package.__getattr__ = _whole  # type: ignore[method-assign]
    sys.modules[_PACKAGE] = package
    sqlalchemy.ext.asyncio = package


_light_package()

from sqlalchemy.ext.asyncio.engine import (  # noqa: E402  (after the package is in place)
    AsyncConnection as AsyncConnection,
)
from sqlalchemy.ext.asyncio.engine import AsyncEngine as AsyncEngine  # noqa: E402
from sqlalchemy.ext.asyncio.engine import (  # noqa: E402
    create_async_engine as create_async_engine,
)

__all__ = ["AsyncConnection", "AsyncEngine", "create_async_engine"]
