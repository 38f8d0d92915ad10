"""The values settings take, checked as they are read: sizes (``500MB``, ``2GiB``),
durations, templates (a caption, a library's layout: plain fields, bounded widths), so a
bad one is refused by ``config set``, the settings file or a variable, never met
mid-delivery.

Every duration and every size is bounded by its type, not field by field: a duration
is finite, from 0 to ``MAX_SECONDS``, a size from 0 (or 1, ``PositiveSize``: a limit
that 0 would make refuse everything) to ``MAX_BYTES``. ``web.link_ttl = inf`` was
taken, and every job view then answered a bare 500 (``OverflowError`` signing a link)."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from ferryman.caption_template import NO_PHOTO_FIELDS, render_caption
from ferryman.template_fields import check_layout

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_bytes(value: object) -> int:
    """``"500MB"``, ``"1.5 GiB"`` or a plain number of bytes, as an int."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 500MB or 2GiB")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("expected a size like 500MB or 2GiB, not an infinity")
    if isinstance(value, int | float):
        return int(value)
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError("expected a size like 500MB or 2GiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


MAX_SECONDS = 10 * 365 * 86400.0  # ten years: any wait, age or lifetime a setting names
MAX_BYTES = 2**60  # 1 EiB: beyond any disk, far within an int64 column and a float


def finite_seconds(value: object) -> object:
    """Refuse an infinity or a NaN by name and range (pydantic's own words, "a finite
    number", named no range); anything else goes on to the type's checks."""
    if isinstance(value, str | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except ValueError:
            return value
        if not math.isfinite(number):
            raise ValueError(f"a duration is a finite number of seconds, 0 to {MAX_SECONDS:.0f}")
    return value


# A duration in seconds: finite, 0 to ten years (a field may ask more, ``gt=0``).
Seconds = Annotated[
    float, BeforeValidator(finite_seconds), Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)
]
# A size in bytes, "500MB" or a number: 0 to ``MAX_BYTES``.
ByteSize = Annotated[int, BeforeValidator(parse_bytes), Field(ge=0, le=MAX_BYTES)]
# A size that bounds something: 0 would refuse every upload, archive or decode.
PositiveSize = Annotated[int, BeforeValidator(parse_bytes), Field(ge=1, le=MAX_BYTES)]


def _caption(template: str) -> str:
    render_caption(template, job_name="x", album=1, albums="1", items=1, **NO_PHOTO_FIELDS)
    return template


def _layout(template: str) -> str:
    check_layout(template)
    return template


# Templates refused when set or read, not at a delivery (``template_fields``).
CaptionTemplate = Annotated[str, AfterValidator(_caption), Field(max_length=1024)]
LayoutTemplate = Annotated[str, AfterValidator(_layout), Field(max_length=1024)]


# Folders that are the system's, never a data folder's: its pseudo-filesystems (a
# "folder" in /proc takes writes that change the kernel's state or vanish), its roots.
_SYSTEM = tuple(
    Path(p) for p in ("/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin", "/boot")
)


def own_folder(path: Path) -> Path:
    """``data_dir``: a folder of its own that this user can write (made when missing),
    never the root, the home folder itself or a system folder such as /proc."""
    where = Path(os.path.abspath(path.expanduser()))
    if where == Path(where.anchor) or where == Path.home():
        raise ValueError(f"{where} is not a folder of its own: name one inside it")
    if any(where == system or system in where.parents for system in _SYSTEM):
        raise ValueError(f"{where} is the system's: name a folder of your own")
    if where.exists() and not where.is_dir():
        raise ValueError(f"{where} is a file, not a folder")
    there = next((p for p in (where, *where.parents) if p.exists()), Path(where.anchor))
    if not os.access(there, os.W_OK | os.X_OK):
        raise ValueError(f"{there} cannot be written by this user: name a folder of your own")
    return path


# The data folder: checked whenever settings are read or set (``own_folder``).
DataDir = Annotated[Path, AfterValidator(own_folder)]


def _token_lines(value: list[str]) -> list[str]:
    """Each the line `ferryman web token` prints: a token pasted as itself, or cut
    short, matched no request and locked every client out without a word."""
    for given in value:
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", given.strip().lower()):
            shown = given[:12] + ("…" if len(given) > 12 else "")
            raise ValueError(
                f"{shown!r} is not sha256:<64 hex digits>, the line `ferryman web token`"
                " prints (the token itself is never kept)"
            )
    return value


def _networks(value: list[str]) -> list[str]:
    """Each an IP address or a network, as uvicorn's ``forwarded_allow_ips`` takes
    them; "*" (everyone) is refused: any client could then say who it is."""
    for given in value:
        try:
            ipaddress.ip_network(given.strip(), strict=False)
        except ValueError:
            raise ValueError(
                f"{given!r} is not an IP address or network (127.0.0.1, 10.0.0.0/8)"
            ) from None
    return [given.strip() for given in value]


# ``web.tokens``: hashes of tokens. ``web.trusted_proxies``: addresses or networks.
TokenLines = Annotated[list[str], AfterValidator(_token_lines)]
ProxyAddresses = Annotated[list[str], AfterValidator(_networks)]


def known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every setting of ``model`` by its dotted key (``network.wifi_only``)."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        inner = field.default_factory
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            keys += known_keys(inner, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def nearest(word: str, choices: Iterable[str]) -> list[str]:
    """The ``choices`` nearest ``word`` (at most three, nearest first), for a "did you
    mean": a setting's key (``nearest_keys``), a destination's kind (``sinks/base``)."""
    import difflib  # lazy: start-up

    return difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)


def nearest_keys(key: str, model: type[BaseModel]) -> str:
    """``; did you mean a, b?`` with the settings of ``model`` nearest ``key``, else
    nothing (`config set` and a settings file's misspelt key say it alike)."""
    near = nearest(key, known_keys(model))
    return f"; did you mean {', '.join(near)}?" if near else ""


def is_section(field: Any) -> bool:
    """A field that is a section of settings (a model of its own), not a value."""
    made = field.default_factory
    return isinstance(made, type) and issubclass(made, BaseModel)


def sectioned(key: str, model: type[BaseModel]) -> str | None:
    """``torbox_api_key`` read as ``TORBOX__API_KEY`` when it names a setting of a
    section so (a variable with one underscore where two part the section): None when
    it names none (FERRYMAN_DATA_DIR and the like are not settings, and stay unread)."""
    fields = model.model_fields
    if key in fields and not is_section(fields[key]):
        return key.upper()
    for at in (i for i, c in enumerate(key) if c == "_"):
        head, tail = key[:at], key[at + 1 :]
        inner = fields.get(head)
        if inner is not None and is_section(inner):
            rest = sectioned(tail, inner.default_factory)  # type: ignore[arg-type]
            if rest is not None:
                return f"{head.upper()}__{rest}"
    return None


def one_underscore(key: str, model: type[BaseModel]) -> None:
    """``config.invalid`` for ``FERRYMAN_{key}`` when it names a setting of a section
    with one underscore where two belong (it was ignored, the setting left unset)."""
    meant = sectioned(key, model)
    if meant is not None:
        from ferryman.errors import FerrymanError  # lazy: start-up

        dotted = meant.lower().replace("__", ".")
        raise FerrymanError(
            "config.invalid",
            f"environment FERRYMAN_{key.upper()}: no setting '{key}'; did you mean"
            f" FERRYMAN_{meant} ({dotted})? Two underscores part a section from its key",
        )
