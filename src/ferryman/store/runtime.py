"""Runtime settings kept in the store (``ferryman config set``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    delete,
    insert,
    select,
)

from ferryman.store.schema import runtime_settings
from ferryman.store.sql.base import StoreBase


class RuntimeQueries(StoreBase):
    """Settings a person changed while ferryman runs; they outlive restarts."""

    # ---------------------------------------------------- runtime settings

    async def runtime_settings(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in await self._read(_ALL)}

    async def clear_runtime_setting(self, key: str) -> None:
        """The setting's file (or default) value applies again (``config unset``)."""
        async with self._write() as conn:
            await conn.execute(delete(runtime_settings).where(runtime_settings.c.key == key))

    async def set_runtime_setting(self, key: str, value: Any) -> None:
        async with self._write() as conn:
            await conn.execute(delete(runtime_settings).where(runtime_settings.c.key == key))
            await conn.execute(insert(runtime_settings).values(key=key, value=json.dumps(value)))


_ALL = select(runtime_settings)
