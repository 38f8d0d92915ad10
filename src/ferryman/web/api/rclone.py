"""``/api/v1/rclone``: a person's own rclone.conf, for their ``rclone:REMOTE:path`` jobs
and watches (``net/rclone_conf``): put one (checked: no remote that reaches this server,
kept owner-only), see its remotes (names, types, plain fields; never a secret), ask
whether each answers, remove it. An administrator's is the server's (used before
``rclone.config``); a person's is theirs alone."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request, Response

from ferryman.errors import FerrymanError
from ferryman.net.rclone import for_config
from ferryman.net.rclone_conf import MAX_BYTES, KeptRclone, config_for
from ferryman.web.accounts.who import Me, Who
from ferryman.web.core import API, Web

REACH_SECONDS = 10.0  # one remote's cheap look, at most


def routes(app: FastAPI, web: Web) -> None:
    def person(who: Who) -> int | None:
        return None if who.admin else who.account

    def kept_for(who: Who) -> KeptRclone:
        return KeptRclone(web.settings.data_dir, person(who))

    @app.get(f"{API}/rclone", tags=["rclone"])
    async def status(who: Me) -> dict[str, object]:
        """Whether an rclone.conf is kept, its remotes (name, type, plain fields, the
        names of its secrets), since when."""
        return await asyncio.to_thread(kept_for(who).view)

    @app.put(f"{API}/rclone", tags=["rclone"])
    async def put(request: Request, who: Me) -> dict[str, object]:
        """Keep the body, an rclone.conf, for the next rclone: jobs and watches (replacing
        the one kept): ``rclone.conf_invalid`` names the line that is not one,
        ``rclone.conf_refused`` the remote that would reach this server."""
        kept = kept_for(who)
        data = bytearray()
        async for block in request.stream():
            data += block
            if len(data) > MAX_BYTES:
                raise FerrymanError("rclone.conf_invalid", f"over {MAX_BYTES} bytes")
        allowed = web.settings.network.private_allowed
        return await asyncio.to_thread(kept.put, bytes(data), allowed)

    @app.delete(f"{API}/rclone", status_code=204, tags=["rclone"])
    async def remove(who: Me) -> Response:
        """Forget the kept rclone.conf (a person's rclone: jobs then fail
        ``rclone.no_conf``)."""
        await asyncio.to_thread(kept_for(who).remove)
        return Response(status_code=204)

    @app.get(f"{API}/rclone/reach", tags=["rclone"])
    async def reach(who: Me) -> dict[str, Any]:
        """Each remote the asker's jobs reach, and whether it answered a cheap look (its
        root's folders listed, 10 s at most each): ``ok``, and rclone's words where not."""
        config = await asyncio.to_thread(config_for, web.settings, person(who))
        rclone = for_config(web.settings, config)
        try:
            return {"remotes": await rclone.reach(REACH_SECONDS)}
        finally:
            await rclone.close()
