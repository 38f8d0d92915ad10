"""A person's limits on the page and the API: the operations' one check (``ops/limits``,
which every door's new job, retry and watch passes through), and what a person sets
for themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman.engine.ops import limits
from ferryman.engine.ops.limits import LIMITS

if TYPE_CHECKING:
    from ferryman.web.accounts.who import Who
    from ferryman.web.core import Web

PERSONAL = ("dest", "quality", "audio", "notify")  # what a person sets for themselves
__all__ = ["LIMITS", "PERSONAL", "check"]


async def check(web: Web, who: Who) -> None:
    """Raise the first limit ``who`` is at (``ops/limits.check``)."""
    await limits.check(web.store, who)
