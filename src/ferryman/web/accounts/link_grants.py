"""What a person's signed link (``/d/``, ``/l/``) stays good for.

A link is a capability: whoever holds it gets the one file (or the whole job's zip, or
the one preview) it names until it expires, signed in or not, as whoever. A link of a
person's job is also bound to that person (``u:ID``), and, when that person asked for it
through their own API token or their session, to that too (``u:ID:t:TOKEN``,
``u:ID:s:SESSION``); it is refused (410 ``link.revoked``) once the person is removed
(their jobs are then an administrator's), the token is revoked, or the session ended
(signed out, a password set anew). Numbers are never given again, so a link never
passes to a later person, token or session. Links the page's views carry are made
without a request, so they are bound to the person only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman.errors import FerrymanError
from ferryman.web.accounts import passwords
from ferryman.web.signing import person_bind

if TYPE_CHECKING:
    from ferryman.model import Job
    from ferryman.web.accounts.who import Who
    from ferryman.web.core import Web
    from ferryman.web.signing import Grant


def bind_for(account: int | None, who: Who | None = None) -> str:
    """The binding of a link of a job of ``account`` made now for ``who``: the person,
    and the credential they asked through when the job is theirs."""
    bound = person_bind(account)
    if bound and who is not None and who.account == account and who.via:
        return f"{bound}:{who.via}"
    return bound


async def check_bound(web: Web, grant: Grant, job: Job) -> None:
    """Raises ``link.revoked`` when the link's person, token or session is gone."""
    if not grant.bind:
        return
    kind, _, rest = grant.bind.partition(":")
    number, _, via = rest.partition(":")
    if kind != "u" or not number.isdigit():
        raise FerrymanError("link.tampered", "not a download link")
    account = int(number)
    user = await web.store.user(account)
    if user is None or job.account != account:
        raise FerrymanError("link.revoked", f"the person job {job.id}'s link was made for is gone")
    how, _, value = via.partition(":")
    if how == "t" and value.isdigit():
        tokens = {int(t["id"]) for t in await web.store.user_token_list(account)}
        if int(value) not in tokens:
            raise FerrymanError(
                "link.revoked", "the API token this link was made through is revoked"
            )
    elif how in ("s", "p") and not await _session_on(web, how, value, user.password_hash):
        raise FerrymanError("link.revoked", "the session this link was made through has ended")


async def _session_on(web: Web, how: str, value: str, password_hash: str | None) -> bool:
    """Whether the session a link was made through goes on: held in the store (``s:``),
    or, for a link made before sessions were (``p:``), its password unchanged."""
    if how == "p":
        return passwords.stamp(password_hash) == value
    return value.isdigit() and await web.store.session_alive(int(value))
