"""Runtime settings from any front door: the keys a running engine re-reads from the store.

One place validates and stores them, so ``ferryman config set`` and the chat's
``/settings`` accept exactly the same keys and values.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from ferryman.config import RUNTIME_KEYS, Settings, with_runtime
from ferryman.errors import FerrymanError
from ferryman.store.ports import RuntimeSettings


def parse_value(raw: str) -> Any:
    """JSON when it parses (numbers, booleans, quoted strings), else the text as given."""
    with contextlib.suppress(ValueError):
        return json.loads(raw)
    return raw


async def set_runtime(store: RuntimeSettings, settings: Settings, key: str, raw: str) -> Any:
    """Validate ``key = raw`` against the settings and store it; returns the stored value."""
    if key not in RUNTIME_KEYS:
        raise FerrymanError(
            "config.invalid",
            f"'{key}' cannot be changed at runtime; allowed: {', '.join(sorted(RUNTIME_KEYS))}",
        )
    value = parse_value(raw)
    with_runtime(settings, {key: value})  # refuse a bad value before it is stored
    await store.set_runtime_setting(key, value)
    return value


async def effective_runtime(store: RuntimeSettings, settings: Settings) -> dict[str, Any]:
    """Each runtime key with the value the engine uses now (stored override or setting)."""
    current = with_runtime(settings, await store.runtime_settings())
    return {key: getattr(current, key) for key in sorted(RUNTIME_KEYS)}
