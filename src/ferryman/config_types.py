"""The values settings take, checked as they are read: sizes (``500MB``, ``2GiB``) and
templates (a caption, a library's layout: plain fields, bounded widths), so a bad one is
refused by ``config set``, the settings file or a variable, never met mid-delivery."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from ferryman.caption_template import render_caption
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
    if isinstance(value, int | float):
        return int(value)
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError("expected a size like 500MB or 2GiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


ByteSize = Annotated[int, BeforeValidator(parse_bytes), Field(ge=0)]


def _caption(template: str) -> str:
    render_caption(template, job_name="x", album=1, albums="1", items=1)
    return template


def _layout(template: str) -> str:
    check_layout(template)
    return template


# Templates refused when set or read, not at a delivery (``template_fields``).
CaptionTemplate = Annotated[str, AfterValidator(_caption), Field(max_length=1024)]
LayoutTemplate = Annotated[str, AfterValidator(_layout), Field(max_length=1024)]


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


def nearest_keys(key: str, model: type[BaseModel]) -> str:
    """``; did you mean a, b?`` with the settings of ``model`` nearest ``key``, else
    nothing (`config set` and a settings file's misspelt key say it alike)."""
    import difflib  # lazy: start-up

    near = difflib.get_close_matches(key, known_keys(model), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(near)}?" if near else ""
