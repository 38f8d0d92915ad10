"""Who is asking: an administrator (a ``web.tokens`` token, the open loopback page, an
administrator's account) or one person, and what of theirs a request may reach.

A person's own job, watch or link is theirs; another's is answered as if it did not
exist (``job.not_found``), so a guessed number tells nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.model import Job
    from ferryman.web.core import Web

SCOPE_KEY = "ferryman.who"  # where the guard leaves it in the request's scope


@dataclass(frozen=True, slots=True)
class Who:
    account: int | None  # ``users.id``; None: not an account (a token, the open page)
    name: str
    admin: bool
    settings: dict[str, Any] = field(default_factory=dict)
    via: str = ""  # the credential asked through: ``t:TOKEN_ID``, ``p:STAMP`` (a session)

    def sees(self, account: int | None) -> bool:
        """Whether a row of ``account`` is this person's to see and change."""
        return self.admin or (self.account is not None and account == self.account)

    @property
    def owner(self) -> int | None:
        """The account a job or watch this person adds belongs to."""
        return self.account


ADMIN = Who(None, "admin", True)  # a web.tokens token, or the open loopback page


async def who_of(request: Request) -> Who:
    """The guard's finding (``auth``). A coroutine though it awaits nothing: FastAPI runs
    a plain function's dependency on its thread pool, a thread hop for every request."""
    found = request.scope.get(SCOPE_KEY)
    if not isinstance(found, Who):
        raise FerrymanError("auth.required", "sign in first")
    return found


Me = Annotated[Who, Depends(who_of)]


async def own_job(web: Web, who: Who, job_id: int) -> Job:
    """The job, if it is ``who``'s to see; another's is ``job.not_found``, as a number
    that was never given."""
    job = await web.store.get_job(job_id)
    if not who.sees(job.account):
        raise FerrymanError("job.not_found", f"there is no job {job_id}")
    return job


def require_admin(who: Who) -> None:
    if not who.admin:
        raise FerrymanError("account.forbidden", "only an administrator may do this")
