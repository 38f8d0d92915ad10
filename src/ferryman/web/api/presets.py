"""``/api/v1/presets``: the presets a person can name (``links/presets``: the built-in ones
and their own; an administrator's are the machine's own, the CLI's), each with its
output profile and destination as ``ferryman preset list --json`` gives them. The page's
form offers the same (``web/preset_choice``)."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from ferryman.web.accounts.who import Me
from ferryman.web.core import API, Web
from ferryman.web.preset_choice import offered
from ferryman.web.schemas import PresetView


def routes(app: FastAPI, web: Web) -> None:
    @app.get(f"{API}/presets", tags=["presets"], response_model=list[PresetView])
    async def presets(who: Me) -> list[PresetView]:
        """The presets you can name: yours, then the built-in ones."""
        found = await asyncio.to_thread(offered, web.settings.data_dir, who)
        return [
            PresetView(
                name=p.name, profile=p.token, dest=p.dest, builtin=p.builtin, says=p.describe()
            )
            for p in found
        ]
