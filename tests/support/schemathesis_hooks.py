"""schemathesis hooks (``SCHEMATHESIS_HOOKS``) for ``test_web_api``'s run over the OpenAPI
description: the bodies of ``POST /api/v1/jobs`` and ``POST /api/v1/watches`` (what a
person types: a source, a destination, a notice URL) are also made hostile with texts
from ``hostile_links`` (every scheme ferryman knows with malformed parts); schemathesis'
own random strings are almost never a link. Chosen by a checksum of the generated body,
not drawn: cheap, and the same in every run."""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path
from typing import Any

import schemathesis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # loaded by path, not as tests.*
from tests.support.hostile_links import hostile_sample

JOBS = "/api/v1/jobs"
WATCHES = "/api/v1/watches"
FIELDS = ("source", "to", "chat", "notify", "every", "since", "window")


def _key(body: dict[str, Any]) -> int:
    text = json.dumps(body, sort_keys=True, default=str)
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _in_place(body: dict[str, Any], key: int) -> dict[str, Any]:
    """``body`` with its link-like text fields (and those of objects in it) hostile."""
    out: dict[str, Any] = {}
    for n, (name, value) in enumerate(body.items()):
        if isinstance(value, str | None) and name in FIELDS:
            out[name] = hostile_sample(key + n)
        elif isinstance(value, dict):
            out[name] = _in_place(value, key + n)
        else:
            out[name] = value
    return out


def _aimed(path: str, key: int) -> dict[str, Any]:
    """A body valid but for its hostile link, so the parsers behind it are reached (a
    random body is mostly refused by the schema first)."""
    if path == JOBS:
        return {"source": hostile_sample(key), "deliver": {"to": ("link", "library")[key % 2]}}
    notify = hostile_sample(key + 1) if key % 3 == 0 else None
    return {"source": hostile_sample(key), "to": ("link:", "library:")[key % 2], "notify": notify}


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    """A job's or a watch's body as generated (one in four), hostile in place (one in
    four), or a valid body around a hostile link (one in two)."""
    operation = context.operation
    if not isinstance(body, dict) or operation is None or operation.method.upper() != "POST":
        return body
    if operation.path not in (JOBS, WATCHES):
        return body
    key = _key(body)
    if key % 4 == 0:
        return body
    if key % 4 == 1:
        return _in_place(body, key)
    return _aimed(operation.path, key)
