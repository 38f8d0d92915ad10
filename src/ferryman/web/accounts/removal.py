"""What goes with a removed person besides their rows in the store: their own
cookies.txt (``links.cookies``), their rclone.conf (``net/rclone_conf``) and the link
results cached for them (``links.cache``, keyed ``…|person:ID``). Their sessions, tokens
and passkeys go with the rows (``store.accounts``); their open streams close (``held``).

A person's number is never given again (schema step 21), and a new account starts
with none of either, in case a number was given again before that step: a newcomer
then inherited the removed person's cookies (sent to the sites their link jobs asked)
and cached results."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman.links.cache import META
from ferryman.links.cookies import KeptCookies
from ferryman.net.rclone_conf import KeptRclone

if TYPE_CHECKING:
    from ferryman.config import Settings


def link_cache(data_dir: Path) -> Path:
    """Where link results are cached (``sources.media_link``)."""
    return data_dir / "cache" / "links"


async def forget_person(settings: Settings, person: int) -> int:
    """Remove what the data folder keeps of ``person``; how many cached results went."""
    return await asyncio.to_thread(_forget, settings.data_dir, person)


def _forget(data_dir: Path, person: int) -> int:
    shutil.rmtree(KeptCookies(data_dir, person).folder, ignore_errors=True)
    shutil.rmtree(KeptRclone(data_dir, person).folder, ignore_errors=True)
    root = link_cache(data_dir)
    mine = f"|person:{person}"
    gone = 0
    try:
        entries = list(root.iterdir())
    except OSError:
        return 0
    for folder in entries:
        try:
            key = str(json.loads((folder / META).read_text()).get("key", ""))
        except (OSError, ValueError, AttributeError):
            continue
        if key.endswith(mine):
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    return gone
