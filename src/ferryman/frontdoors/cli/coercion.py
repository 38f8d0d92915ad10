"""A command line value made a ``str``, ``bool``, ``int``, ``Path`` or ``list[str]``
without Pydantic.

Recent Typers (0.2x) turn every value given to a parameter that is not a flag into
its type through a Pydantic ``TypeAdapter``, built for that parameter on first use:
``--data-dir DIR`` alone imported Pydantic's validators and JSON schema machinery
(``typer._adapters``: ~0.05 s here, several times that on a loaded machine) for
``status``, ``add --help`` and every other command. Here a parameter of those plain
types is given a coercion that does what the adapter does for the everyday value (a
``str`` or a flag's ``bool`` as it is, digits as an ``int`` within its bounds, a path
that may be read or does not exist yet as a ``Path``), and hands anything else (a bad
number, a path it may not read, a type of another kind) to Typer's own, built then, so
every answer and every error reads as Typer's. Older Typers, which use no Pydantic, are left
as they are (``light``: nothing to do).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

try:  # Typer 0.2x: each parameter's coercion, built on first use
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # pragma: no cover - an older Typer: no Pydantic to spare
    RuntimeParam = None  # type: ignore[assignment,misc]

_DIGITS = re.compile(r"-?[0-9]{1,18}")
_SLOW = object()  # not an everyday value: Typer's own coercion says


def _plain(info: Any) -> bool:
    """Parameter settings this module's coercion honours: none of its own parsing or
    type, and a path's checks only those every path gets."""
    return (
        info.parser is None
        and getattr(info, "click_type", None) is None
        and getattr(info, "path_type", None) is None
        and not info.resolve_path
        and not info.allow_dash
        and not info.exists
        and info.file_okay
        and info.dir_okay
        and not getattr(info, "executable", False)
    )


def _quick(annotation: Any, info: Any, value: Any) -> Any:
    """``value`` as ``annotation``, when it is an everyday one; else ``_SLOW``."""
    if annotation is str or annotation is bool:
        return value if type(value) is annotation else _SLOW
    if annotation is int:
        if type(value) is int:
            number = value
        elif type(value) is str and _DIGITS.fullmatch(value):
            number = int(value)
        else:
            return _SLOW
        if info.clamp or (info.min is not None and number < info.min):
            return _SLOW
        return _SLOW if info.max is not None and number > info.max else number
    if annotation is Path:
        return _path(info, value) if type(value) is str and value else _SLOW
    if annotation == list[str] and isinstance(value, (list, tuple)):
        return list(value) if all(type(v) is str for v in value) else _SLOW
    return _SLOW


def _path(info: Any, value: str) -> Any:
    """As Typer's adapter makes it (``Path(value)``, then its checks), when none fails:
    both files and folders are taken (``_plain``), so the checks left are access's."""
    path = Path(value)
    try:
        os.stat(path)
    except OSError:
        return path  # not there (yet): as Typer, when the path need not exist
    if (info.readable and not os.access(path, os.R_OK)) or (
        info.writable and not os.access(path, os.W_OK)
    ):
        return _SLOW  # Typer's own says what is wrong
    return path


if RuntimeParam is not None:

    @dataclasses.dataclass(frozen=True)
    class _Light(RuntimeParam):
        """Everyday values made here; anything else by Typer's coercion, built then."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            done = _quick(self.annotation, self.parameter_info, value)
            if done is not _SLOW:
                return done
            typers: Any = build_runtime_param(param.type_descriptor)
            param._runtime_param = typers  # from now on, Typer's own
            return typers._coerce_value(value, param=param, ctx=ctx)


def light(params: list[Any]) -> list[Any]:
    """``params``, those of plain types given this module's coercion."""
    if RuntimeParam is None:
        return params
    for param in params:
        described = getattr(param, "type_descriptor", None)
        if described is None or getattr(param, "_runtime_param", True) is not None:
            continue  # not Typer's, or its coercion is built already
        annotation, info = described.annotation, described.parameter_info
        plain_type = annotation in (str, int, bool, Path) or annotation == list[str]
        if plain_type and described.file_annotation is None and _plain(info):
            param._runtime_param = _Light(info, annotation)
    return params
