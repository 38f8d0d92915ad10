"""``/api/v1/cookies``: the cookies.txt link jobs use for sites behind a login (MeTube's
"Upload cookies"): put one (checked, kept on the server), ask whether one is kept (how
many cookies, for which sites; never the file), remove it (``links.cookies``). An
administrator's are the server's; a person's are their own, used by their link jobs
alone."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request, Response

from ferryman.errors import FerrymanError
from ferryman.links.cookies import MAX_BYTES, KeptCookies
from ferryman.web.accounts.who import Me, Who
from ferryman.web.core import API, Web


def routes(app: FastAPI, web: Web) -> None:
    def kept_for(who: Who) -> KeptCookies:
        return KeptCookies(web.settings.data_dir, None if who.admin else who.account)

    @app.get(f"{API}/cookies", tags=["cookies"])
    async def status(who: Me) -> dict[str, object]:
        """Whether a cookies.txt is kept: how many cookies, for which sites, since when
        (an administrator's: the server's one; a person's: their own)."""
        return await asyncio.to_thread(kept_for(who).view)

    @app.put(f"{API}/cookies", tags=["cookies"])
    async def put(request: Request, who: Me) -> dict[str, object]:
        """Keep the body, a Netscape cookies.txt, for the next link jobs (replacing the
        one kept); ``cookies.invalid`` names the line that is not a cookie."""
        kept = kept_for(who)
        data = bytearray()
        async for block in request.stream():
            data += block
            if len(data) > MAX_BYTES:
                raise FerrymanError(
                    "cookies.invalid", f"over {MAX_BYTES} bytes: a cookies.txt is smaller"
                )
        return await asyncio.to_thread(kept.put, bytes(data))

    @app.delete(f"{API}/cookies", status_code=204, tags=["cookies"])
    async def remove(who: Me) -> Response:
        """Forget the kept cookies.txt (link jobs go on without, or with
        ``links.cookies_file`` if the server has one)."""
        await asyncio.to_thread(kept_for(who).remove)
        return Response(status_code=204)
