"""A person's places to send to, as the doors check them and as the deliver stage
checks them again.

Where a person names a destination (a page's job or watch, a chat's ``to:``, ``/settings
to``, a watch) the doors ask ``ops/who.own_place``; as each album of a person's job is
delivered, the deliver stage asks ``at_delivery``: a place may stop being theirs in
between (they left the group), and then the album fails with ``account.dest_forbidden``
and nothing is sent there. Both come down to the same two questions: is it a place an
administrator allowed everyone (``allowed_places``), else does its kind take it from
this person (``SinkKind.check_person``: a Telegram chat of theirs)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol

from ferryman.errors import FerrymanError

if TYPE_CHECKING:
    from ferryman.config import Settings
    from ferryman.resources import Shared
    from ferryman.sinks.base import SinkRegistry
    from ferryman.store.accounts.sql import User


class Users(Protocol):
    async def user(self, user_id: int) -> User | None: ...


def allowed_places(settings: Settings) -> tuple[str, ...]:
    """The places an administrator allowed everyone: the chat's default destination
    (``telegram.default_target``), where a person's files go unless they say."""
    given = settings.telegram.default_target
    return (given,) if given else ()


def is_allowed(sinks: SinkRegistry, dest: str, allowed: Collection[str]) -> bool:
    """Whether ``dest`` is one of the ``allowed`` places (options after ``?`` aside)."""
    mine = _base(sinks, dest)
    return bool(mine) and any(mine == _base(sinks, place) for place in allowed)


async def at_delivery(
    users: Users,
    sinks: SinkRegistry,
    settings: Settings,
    resources: Shared | None,
    account: int | None,
    dest: str,
) -> None:
    """Nothing when the job of ``account`` may still go to ``dest``: an administrator's
    or no person's (the CLI's), an allowed place, or a place its kind still takes from
    the person (``SinkKind.check_person``, asked of Telegram again); else
    ``account.dest_forbidden``. A person whose account is gone has no chat left."""
    if account is None:
        return
    user = await users.user(account)
    if user is not None and user.admin:
        return
    if is_allowed(sinks, dest, allowed_places(settings)):
        return
    linked = user.tg_user_id if user is not None else None
    await sinks.check_person(dest, linked, resources)


def _base(sinks: SinkRegistry, dest: str) -> str:
    """``scheme:target`` made canonical, without options ("" for a malformed one)."""
    try:
        found = sinks.parse(sinks.expand(dest))
    except FerrymanError:
        return ""
    return f"{found.scheme}:{found.target}"
