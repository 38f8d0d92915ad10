"""``ferryman config set|unset|init``: change the settings file as a person would.

tomlkit edits the file in place, so the comments, order and other keys a person wrote
stay as they were (tomllib only reads). A key is checked against the settings model
and the new file as a whole is validated before it replaces the old one: a typo or a
bad value is a ``config.invalid`` that names it, and the file is left untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import textwrap
from pathlib import Path
from typing import Any, get_origin

import tomlkit
from pydantic import BaseModel

from ferryman.config import Settings, validate_partial
from ferryman.config.types import known_keys, nearest_keys, parse_bytes
from ferryman.errors import FerrymanError

HEAD = """\
# ferryman's settings, every one with its default, commented out: take the "# " off a
# line to change it. `ferryman config set KEY VALUE` changes one and keeps the rest;
# `ferryman config show` says where each value comes from (this file, FERRYMAN_*
# variables, the defaults). Sizes take units: "500MB", "2GiB".
"""
WIDTH = 88  # a comment line's width


def starter(model: type[BaseModel] = Settings) -> str:
    """The file ``config init`` writes, made from the settings model: each setting's
    description and default, so it is never behind the settings there are."""
    lines = HEAD.splitlines()
    _section(lines, model, model(), "")
    return "\n".join(lines) + "\n"


def _section(lines: list[str], model: type[BaseModel], values: BaseModel, prefix: str) -> None:
    tables: list[tuple[str, type[BaseModel], BaseModel]] = []
    for name, field in model.model_fields.items():
        inner = field.default_factory
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            tables.append((f"{prefix}{name}", inner, getattr(values, name)))
            continue
        lines.append("")
        for line in textwrap.wrap(field.description or "", WIDTH - 2):
            lines.append(f"# {line}")
        lines.append(f"# {name} = {_shown(getattr(values, name), field)}")
    for table, inner, value in tables:
        lines += ["", f"[{table}]"]
        if inner.__doc__:
            lines += [f"# {line}" for line in textwrap.wrap(" ".join(inner.__doc__.split()), 86)]
        _section(lines, inner, value, f"{table}.")


def _shown(value: Any, field: Any) -> str:
    """``value`` as TOML; a size in its unit; unset as a note (TOML has no null)."""
    if value is None:
        return "(not set)"
    if isinstance(value, int) and not isinstance(value, bool) and _is_size(field):
        for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if value and value % factor == 0:
                return f'"{value // factor}{unit}"'
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        table.update(value)
        return str(table.as_string())
    return str(tomlkit.item(value).as_string())


def _is_size(field: Any) -> bool:
    return any(getattr(m, "func", None) is parse_bytes for m in field.metadata)


def parse_value(raw: str) -> Any:
    """JSON when it parses (numbers, booleans, lists, quoted strings), else the text."""
    with contextlib.suppress(ValueError):
        return json.loads(raw)
    return raw


def _known_keys() -> list[str]:
    return known_keys(Settings)


def check_key(key: str) -> list[str]:
    """``key``'s path (``["network", "wifi_only"]``), or ``config.invalid`` with the
    nearest keys; a key inside a mapping setting (``webdav.hosts.NAME.password``) goes by
    its mapping, and the validation of its value decides the rest."""
    known = _known_keys()
    parts = key.split(".")
    if key in known or any(key.startswith(f"{k}.") for k in known):
        return parts
    raise FerrymanError(
        "config.invalid",
        f"no setting '{key}'{nearest_keys(key, Settings)} (every key: `ferryman config show`)",
    )


def _is_list(parts: list[str], model: type[BaseModel] = Settings) -> bool:
    """Whether the setting at ``parts`` holds a list (``passwords``, ``telegram.allow_users``)."""
    field = model.model_fields.get(parts[0])
    if field is None:
        return False
    inner = field.default_factory
    if len(parts) > 1:
        nested = isinstance(inner, type) and issubclass(inner, BaseModel)
        return nested and _is_list(parts[1:], inner)  # type: ignore[arg-type]
    return get_origin(field.annotation) is list


def _current(path: Path) -> Any:
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.ParseError) as exc:
        raise FerrymanError("config.invalid", f"{path} cannot be read as TOML: {exc}") from exc


def set_key(path: Path, key: str, raw: str) -> Any:
    """Write ``key = raw`` into the file at ``path`` (made when missing); the value."""

    parts = check_key(key)
    value = parse_value(raw)
    if _is_list(parts) and not isinstance(value, list):
        # One value is a list of it, as in the environment: never split on commas.
        value = [value if isinstance(value, str) else raw]
    doc = _current(path)
    holder = doc
    for part in parts[:-1]:
        if part not in holder:
            holder[part] = tomlkit.table()
        holder = holder[part]
        if not isinstance(holder, dict):
            raise FerrymanError("config.invalid", f"{path}: '{part}' is not a table")
    holder[parts[-1]] = value
    _write(path, doc, key)
    return value


def unset_key(path: Path, key: str) -> bool:
    """Remove ``key`` from the file; whether it was there."""
    parts = check_key(key)
    doc = _current(path)
    holders = [doc]
    for part in parts[:-1]:
        inner = holders[-1].get(part) if isinstance(holders[-1], dict) else None
        holders.append(inner)
    if not isinstance(holders[-1], dict) or parts[-1] not in holders[-1]:
        return False
    del holders[-1][parts[-1]]
    for depth in range(len(parts) - 1, 0, -1):  # a table left empty goes too
        if holders[depth]:
            break
        del holders[depth - 1][parts[depth - 1]]
    _write(path, doc, key)
    return True


def init(path: Path) -> None:
    """Every setting, commented, at ``path`` (``starter``); never over a file there."""
    if path.exists():
        raise FerrymanError("config.exists", f"{path} is there already")
    _replace(path, starter())


def _write(path: Path, doc: Any, key: str) -> None:
    """Validate the whole new file, then put it in place of the old one."""

    text = tomlkit.dumps(doc)
    validate_partial(doc.unwrap(), f"{path} with {key}")
    _replace(path, text)


def _replace(path: Path, text: str) -> None:
    """Written beside, then renamed: a crash leaves the old file or the new, whole.
    A new file is 0600: it may come to hold an API key or a bot token."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise FerrymanError("config.unwritable", f"{path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
