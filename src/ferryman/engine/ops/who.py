"""Who asks, and what of the engine's things is theirs: one rule for every front door.

Three kinds of askers: an administrator (a ``web.tokens`` token, the open loopback page,
an administrator's account), the machine's own user (the CLI, a chat user on
``telegram.allow_users`` who is linked to no account) — both see and change everything
— and one person (an ordinary account, on the page, through the API, or as a chat user
linked with ``/link``), who sees and changes only their own jobs and watches, sets only
their own settings and sends only to their own destinations. Another's job or watch is
answered as if it did not exist (``job.not_found``, ``watch.not_found``), so a guessed
number tells nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Protocol

from ferryman.engine.plumbing.places import allowed_places, is_allowed
from ferryman.errors import FerrymanError

if TYPE_CHECKING:  # `ferryman status` reads through the light store, without SQLAlchemy
    from ferryman.config import Settings
    from ferryman.model import Job
    from ferryman.resources import Shared
    from ferryman.sinks.base import SinkRegistry
    from ferryman.store.accounts.sql import User


@dataclass(frozen=True, slots=True)
class Who:
    account: int | None  # ``users.id``; None: not an account (a token, the open page)
    name: str
    admin: bool
    settings: dict[str, Any] = field(default_factory=dict)
    via: str = ""  # the credential asked through: ``t:TOKEN_ID``, ``p:STAMP`` (a session)
    telegram: int | None = None  # the Telegram user they linked (``/link``); None: none

    def sees(self, account: int | None) -> bool:
        """Whether a row of ``account`` is this person's to see and change."""
        return self.admin or (self.account is not None and account == self.account)

    @property
    def owner(self) -> int | None:
        """The account a job or watch this person adds belongs to."""
        return self.account


ADMIN = Who(None, "admin", True)  # a web.tokens token, or the open loopback page
MACHINE = Who(None, "machine", True)  # the CLI; an allow-listed chat user with no account
NOBODY = Who(None, "nobody", False)  # a stranger (``/link CODE`` only): sees nothing


def of_user(user: User, via: str = "") -> Who:
    """The person an account is (an administrator's account is an administrator)."""
    return Who(user.id, user.name, user.admin, dict(user.settings), via, user.tg_user_id)


class Jobs(Protocol):
    async def get_job(self, job_id: int) -> Job: ...


class WatchOwners(Protocol):
    async def watch_accounts(self) -> dict[int, int | None]: ...


async def own_job(store: Jobs, who: Who, job_id: int) -> Job:
    """The job, if it is ``who``'s to see; another's is ``job.not_found``, as a number
    that was never given."""
    job = await store.get_job(job_id)
    if not who.sees(job.account):
        raise FerrymanError("job.not_found", f"there is no job {job_id}")
    return job


async def own_watch(store: WatchOwners, who: Who, watch_id: int) -> None:
    """Nothing for ``who``'s own watch (or one that does not exist: the store says so
    next); another's is ``watch.not_found``."""
    if who.admin:
        return
    whose = await store.watch_accounts()
    if watch_id in whose and not who.sees(whose[watch_id]):
        raise FerrymanError("watch.not_found", f"there is no watch {watch_id}")


def require_admin(who: Who, what: str = "do this") -> None:
    if not who.admin:
        raise FerrymanError("account.forbidden", f"only an administrator may {what}")


def own_source(who: Who, uri: str, settings: Settings | None = None) -> None:
    """Nothing for an input ``who`` may name; ``account.source_forbidden`` for a
    person's input read through one of the server's own accounts, where the person
    need not be: a private channel or group of its Telegram account (``tg:c/ID/…``; a
    public one, ``tg:NAME/…``, is anyone's), an item of its Torbox account
    (``torbox:…``: everyone's torrents are there; a magnet of theirs is fine), a WebDAV
    server its settings hold a login for (``[webdav.hosts]``; the person's own login in
    the link is fine). The chat's own files (``tg:u/``) are never typed."""
    if who.admin:
        return
    text = uri.strip()
    scheme = text.partition(":")[0].lower()
    if text.lower().startswith("tg:c/"):
        why = "a private Telegram channel or group is read as ferryman's own account"
    elif scheme == "torbox":
        why = "an item of the server's Torbox account is anyone's who asked for it there"
    elif scheme in ("dav", "davs") and settings is not None and _server_login(text, settings):
        why = "the server's own login for that WebDAV server is not yours to use"
    else:
        return
    raise FerrymanError("account.source_forbidden", f"{why}: only an administrator may")


def _server_login(uri: str, settings: Settings) -> bool:
    """Whether ``uri`` (a ``dav(s):`` link without its own login) would be read with a
    login of the server's settings."""
    from ferryman.urls import split_link  # lazy: start-up

    try:
        parts = split_link(uri)
    except FerrymanError:
        return False
    if parts.username:
        return False
    return settings.webdav.login_for(parts.hostname or "", parts.port) is not None


def own_library(dest: str, who: Who) -> str:
    """``dest`` with the person's own library folder for a bare ``library:`` (options
    after ``?`` kept): their jobs and watches go there, not to the server's library."""
    folder = who.settings.get("library")
    scheme, _, rest = dest.partition(":")
    target, ask, options = rest.partition("?")
    if scheme != "library" or target or who.account is None or not folder:
        return dest
    return f"library:{folder}{ask}{options}"


def own_dest(who: Who, sinks: SinkRegistry, dest: str, allowed: Collection[str] = ()) -> str:
    """``dest`` (typed by ``who``: a caption's ``to:``, ``/settings to``, a watch's, a
    person's default) if it is a place of theirs, with their own library folder for a
    bare ``library:``; ``account.dest_forbidden`` else. An administrator's is taken
    as it is. A person's places are the destinations a client may name
    (``SinkRegistry.for_client``: a kind, and a target only where the kind takes one
    from a client, such as a Telegram chat), their own library folder and the places
    an administrator ``allowed`` (``allowed_places``); never a folder of the server
    named in a message, nor an rclone connection string (``rclone.conn_refused``).
    Offline: whose a Telegram chat is, ``own_place`` asks next."""
    if who.admin:
        return dest
    found = sinks.parse(dest)  # sink.unknown first: a typo is a typo
    if found.scheme == "rclone":  # a remote of their own rclone.conf, named alone
        from ferryman.net.rclone_path import refuse_for_person  # lazy: start-up

        refuse_for_person([found.text])
    if is_allowed(sinks, found.text, allowed):
        return found.text
    folder = who.settings.get("library")
    if found.scheme == "library":
        if found.target and not (folder and _same_folder(found.target, str(folder))):
            raise FerrymanError(
                "account.dest_forbidden",
                f"library:{found.target} is not your library folder: send to library:",
            )
        return own_library(found.text, who)
    try:
        sinks.for_client(found.scheme, found.target or None)
    except FerrymanError:
        raise FerrymanError(
            "account.dest_forbidden", f"{found.scheme}:{found.target} is not a place of yours"
        ) from None
    return found.text


async def own_place(
    who: Who,
    sinks: SinkRegistry,
    dest: str,
    allowed: Collection[str] = (),
    resources: Shared | None = None,
) -> str:
    """``own_dest``, and then, for a person, the place's kind asked whether it is
    theirs now (``SinkKind.check_person``: a Telegram chat is their own linked
    account, a group they are in or a channel they may post in; never ``me``, the
    server's Saved Messages, nor another's chat): ``account.dest_forbidden`` else. The
    one check of every door where a person names a place (the page, the API, a chat's
    ``to:`` and ``/settings to``, a watch); ``resources``: the engine's (its Telegram
    client asks the membership; None: a chat of theirs cannot be checked, and is
    refused). The deliver stage asks again as each album goes (``plumbing/places``)."""
    text = own_dest(who, sinks, dest, allowed)
    if who.admin or is_allowed(sinks, text, allowed):
        return text
    await sinks.check_person(text, who.telegram, resources)
    return text


def _same_folder(given: str, own: str) -> bool:
    return PurePath(given) == PurePath(own)


__all__ = [
    "ADMIN",
    "MACHINE",
    "NOBODY",
    "Who",
    "allowed_places",
    "of_user",
    "own_dest",
    "own_job",
    "own_library",
    "own_place",
    "own_source",
    "own_watch",
    "require_admin",
]
