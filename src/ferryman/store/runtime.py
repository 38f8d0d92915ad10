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
        async with self.reader.connect() as conn:
            rows = (await conn.execute(select(runtime_settings))).all()
        return {k: json.loads(v) for k, v in rows}

    async def clear_runtime_setting(self, key: str) -> None:
        """The setting's file (or default) value applies again (``config unset``)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(runtime_settings).where(runtime_settings.c.key == key))

    async def set_runtime_setting(self, key: str, value: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(runtime_settings).where(runtime_settings.c.key == key))
            await conn.execute(insert(runtime_settings).values(key=key, value=json.dumps(value)))
