"""Who is asking: an administrator (a ``web.tokens`` token, the open loopback page, an
administrator's account) or one person, and what of theirs a request may reach.

A person's own job, watch or link is theirs; another's is answered as if it did not
exist (``job.not_found``), so a guessed number tells nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from ferryman.engine.ops import who as asking
from ferryman.engine.ops.who import ADMIN, Who, require_admin
from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.model import Job
    from ferryman.web.core import Web

SCOPE_KEY = "ferryman.who"  # where the guard leaves it in the request's scope


async def who_of(request: Request) -> Who:
    """The guard's finding (``auth``). A coroutine though it awaits nothing: FastAPI runs
    a plain function's dependency on its thread pool, a thread hop for every request."""
    found = request.scope.get(SCOPE_KEY)
    if not isinstance(found, Who):
        raise FerrymanError("auth.required", "sign in first")
    return found


Me = Annotated[Who, Depends(who_of)]


async def own_job(web: Web, who: Who, job_id: int) -> Job:
    """The job, if it is ``who``'s to see (the operations' one rule, ``ops/who``)."""
    return await asking.own_job(web.store, who, job_id)


__all__ = ["ADMIN", "SCOPE_KEY", "Me", "Who", "own_job", "require_admin", "who_of"]
