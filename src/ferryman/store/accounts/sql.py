"""Accounts: the people of one ferryman, their own API tokens, passkeys, Telegram link
codes, the page's sessions, and the audit of sign-ins and administrators' actions
(schema steps 16 and 21). A person's, a token's, a session's number is never given
again (a link or a stream bound to one never passes to another's).

The store keeps only what it is given: password hashes are made and checked by
``web.accounts.passwords`` (argon2id), tokens and link codes arrive hashed. A job's and a
watch's person is their ``account_id`` (NULL: the administrator's, as before accounts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    String,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.store.schema import (
    audit,
    items,
    jobs,
    link_codes,
    passkeys,
    sessions,
    user_tokens,
    users,
    watches,
)
from ferryman.store.sql.base import StoreBase

# A person's job that holds a turn: read, delivered or waiting on them (``limits``' count).
BUSY = (JobState.QUEUED.value, JobState.READING.value, JobState.ACTIVE.value)
RUNNING = (JobState.READING.value, JobState.ACTIVE.value)  # started: holds a slot


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    admin: bool
    password_hash: str | None = field(repr=False)
    settings: dict[str, Any]
    tg_user_id: int | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Passkey:
    id: int
    user_id: int
    credential_id: str
    public_key: str
    sign_count: int


@dataclass(frozen=True, slots=True)
class Session:
    """A page's sign-in held here: its person (None: a server token's, ``token`` the
    prefix of that token's hash) until ``expires_at``, or until it is ended."""

    id: int
    user: User | None
    token: str | None
    expires_at: float


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: float
    actor: str
    action: str
    target: str
    address: str


def user_from(m: Any) -> User:
    return User(
        id=m["id"],
        name=m["name"],
        admin=bool(m["admin"]),
        password_hash=m["password_hash"],
        settings=json.loads(m["settings"] or "{}"),
        tg_user_id=m["tg_user_id"],
        created_at=m["created_at"],
    )


def _taken(name: str) -> FerrymanError:
    return FerrymanError("account.exists", f"there is an account {name!r} already")


class AccountQueries(StoreBase):
    """People, their tokens, passkeys, chat link codes and the audit."""

    async def add_user(self, name: str, password_hash: str | None, admin: bool = False) -> User:
        values = {
            "name": name,
            "password_hash": password_hash,
            "admin": admin,
            "settings": "{}",
            "created_at": self.clock(),
        }
        try:
            async with self._write() as conn:
                await conn.execute(insert(users).values(values))
        except IntegrityError as exc:
            raise _taken(name) from exc
        found = await self.user_named(name)
        assert found is not None
        return found

    async def users(self) -> list[User]:
        return [user_from(r._mapping) for r in await self._read(_USERS)]

    async def _one_user(self, statement: Any, params: dict[str, Any]) -> User | None:
        found = await self._read(statement, params)
        return user_from(found[0]._mapping) if found else None

    async def user(self, user_id: int) -> User | None:
        return await self._one_user(_USER, {"user_id": user_id})

    async def user_named(self, name: str) -> User | None:
        return await self._one_user(_USER_NAMED, {"name": name})

    async def user_of_telegram(self, tg_user_id: int) -> User | None:
        return await self._one_user(_USER_OF_TELEGRAM, {"tg_user_id": tg_user_id})

    async def remove_user(self, user_id: int) -> bool:
        """The account, its tokens, passkeys, codes and sessions; its jobs and watches
        stay, the administrator's now (``account_id`` NULL)."""
        async with self._write() as conn:
            for table in (user_tokens, passkeys, link_codes, sessions):
                await conn.execute(delete(table).where(table.c.user_id == user_id))
            for table in (jobs, watches):
                await conn.execute(
                    update(table).where(table.c.account_id == user_id).values(account_id=None)
                )
            done = await conn.execute(delete(users).where(users.c.id == user_id))
        return done.rowcount == 1

    async def update_user(self, user_id: int, **values: Any) -> None:
        """Set ``password_hash``, ``admin``, ``settings`` (a dict) or ``tg_user_id``. A
        password set anew ends the person's sessions, in the same transaction, through
        whichever door it was set."""
        if "settings" in values:
            values["settings"] = json.dumps(values["settings"], sort_keys=True)
        try:
            async with self._write() as conn:
                await conn.execute(update(users).where(users.c.id == user_id).values(values))
                if "password_hash" in values:
                    await conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
        except IntegrityError as exc:
            raise FerrymanError("account.exists", "linked to another account already") from exc

    # --------------------------------------------------------------- tokens

    async def add_user_token(self, user_id: int, hashed: str, label: str) -> int:
        values = {"user_id": user_id, "hash": hashed, "label": label, "created_at": self.clock()}
        async with self._write() as conn:
            done = await conn.execute(insert(user_tokens).values(values))
        key = done.inserted_primary_key
        assert key is not None
        return int(key[0])

    async def user_of_token(self, hashed: str) -> User | None:
        return await self._one_user(_USER_OF_TOKEN, {"hash": hashed})

    async def user_token_id(self, hashed: str) -> int | None:
        found = await self._read(_TOKEN_ID, {"hash": hashed})
        return int(found[0][0]) if found else None

    async def user_token_list(self, user_id: int) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await self._read(_TOKENS, {"user_id": user_id})]

    async def remove_user_token(self, user_id: int, token_id: int) -> bool:
        mine = (user_tokens.c.id == token_id, user_tokens.c.user_id == user_id)
        async with self._write() as conn:
            done = await conn.execute(delete(user_tokens).where(*mine))
        return done.rowcount == 1

    # ------------------------------------------------------------- sessions

    async def add_session(
        self, hashed: str, user_id: int | None, token: str | None, expires_at: float
    ) -> int:
        """A new session (its cookie's key arrives hashed); those past their end go."""
        values = {
            "hash": hashed,
            "user_id": user_id,
            "token": token,
            "created_at": self.clock(),
            "expires_at": expires_at,
        }
        async with self._write() as conn:
            await conn.execute(delete(sessions).where(sessions.c.expires_at < self.clock()))
            done = await conn.execute(insert(sessions).values(values))
        key = done.inserted_primary_key
        assert key is not None
        return int(key[0])

    async def session(self, hashed: str) -> Session | None:
        """The session of a cookie's hashed key, while it lasts, with its person."""
        found = await self._read(_SESSION, {"hash": hashed})
        if not found or found[0]._mapping["expires_at"] < self.clock():
            return None
        m = found[0]._mapping
        user = await self.user(m["user_id"]) if m["user_id"] is not None else None
        if m["user_id"] is not None and user is None:
            return None
        return Session(m["id"], user, m["token"], m["expires_at"])

    async def session_alive(self, session_id: int) -> bool:
        found = await self._read(_SESSION_ALIVE, {"id": session_id})
        return bool(found) and found[0][0] >= self.clock()

    async def end_session(self, hashed: str) -> bool:
        async with self._write() as conn:
            done = await conn.execute(delete(sessions).where(sessions.c.hash == hashed))
        return done.rowcount == 1

    async def end_sessions(self, user_id: int, keep: int | None = None) -> int:
        """End a person's sessions (all but ``keep``); how many ended."""
        mine = [sessions.c.user_id == user_id]
        if keep is not None:
            mine.append(sessions.c.id != keep)
        async with self._write() as conn:
            done = await conn.execute(delete(sessions).where(*mine))
        return int(done.rowcount)

    # ------------------------------------------------------------- passkeys

    async def add_passkey(
        self, user_id: int, credential_id: str, public_key: str, count: int
    ) -> None:
        values = {
            "user_id": user_id,
            "credential_id": credential_id,
            "public_key": public_key,
            "sign_count": count,
            "created_at": self.clock(),
        }
        async with self._write() as conn:
            await conn.execute(insert(passkeys).values(values))

    async def passkey(self, credential_id: str) -> Passkey | None:
        found = await self._read(_PASSKEY, {"credential_id": credential_id})
        if not found:
            return None
        m = found[0]._mapping
        return Passkey(m["id"], m["user_id"], m["credential_id"], m["public_key"], m["sign_count"])

    async def passkey_used(self, passkey_id: int, count: int) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(passkeys).where(passkeys.c.id == passkey_id).values(sign_count=count)
            )

    # ------------------------------------------------------- telegram link

    async def add_link_code(self, user_id: int, hashed: str, expires_at: float) -> None:
        async with self._write() as conn:
            await conn.execute(delete(link_codes).where(link_codes.c.user_id == user_id))
            values = {"code": hashed, "user_id": user_id, "expires_at": expires_at}
            await conn.execute(insert(link_codes).values(values))

    async def take_link_code(self, hashed: str) -> int | None:
        """The account the code was made for, if it is still good; used once."""
        async with self._write() as conn:
            row = (
                await conn.execute(select(link_codes).where(link_codes.c.code == hashed))
            ).first()
            await conn.execute(delete(link_codes).where(link_codes.c.code == hashed))
        if row is None or row.expires_at < self.clock():
            return None
        return int(row.user_id)

    # ---------------------------------------------------------------- audit

    async def add_audit(self, actor: str, action: str, target: str, address: str) -> None:
        values = {
            "at": self.clock(),
            "actor": actor,
            "action": action,
            "target": target,
            "address": address,
        }
        async with self._write() as conn:
            await conn.execute(insert(audit).values(values))

    async def audit_log(self, limit: int = 200) -> list[AuditRow]:
        return [AuditRow(*r) for r in await self._read(_AUDIT, {"limit": limit})]

    # --------------------------------------------------- a person's figures

    async def account_counts(self) -> dict[int | None, dict[str, int]]:
        """Per account: its jobs busy (queued or running) and running."""
        rows = await self._read(_ACCOUNT_COUNTS)
        found: dict[int | None, dict[str, int]] = {}
        for account, state, count in rows:
            mine = found.setdefault(account, {"busy": 0, "running": 0})
            mine["busy"] += count
            mine["running"] += count if state in RUNNING else 0
        return found

    async def account_usage(self, account: int, since: float) -> dict[str, int]:
        """A person's jobs busy now, ended and kept, and the bytes of the items read for
        them since ``since`` (their limits: ``web.accounts.limits``)."""
        mine = {"account": account}
        busy, kept, size = await self._snapshot(
            (_BUSY_OF, mine), (_ENDED_OF, mine), (_BYTES_OF, mine | {"since": since})
        )
        return {"busy": int(busy[0][0]), "ended": int(kept[0][0]), "bytes": int(size[0][0])}

    async def watch_accounts(self) -> dict[int, int | None]:
        return {r.id: r.account_id for r in await self._read(_WATCH_ACCOUNTS)}

    async def set_watch_account(self, watch_id: int, account: int | None) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(watches).where(watches.c.id == watch_id).values(account_id=account)
            )


_USERS = select(users).order_by(users.c.id)
_USER = select(users).where(users.c.id == bindparam("user_id", type_=Integer))
_USER_NAMED = select(users).where(users.c.name == bindparam("name", type_=String))
_USER_OF_TELEGRAM = select(users).where(
    users.c.tg_user_id == bindparam("tg_user_id", type_=BigInteger)
)
_HASH = bindparam("hash", type_=String)
_USER_OF_TOKEN = select(users).join(user_tokens).where(user_tokens.c.hash == _HASH)
_TOKEN_ID = select(user_tokens.c.id).where(user_tokens.c.hash == _HASH)
_TOKENS = (
    select(user_tokens.c.id, user_tokens.c.label, user_tokens.c.created_at)
    .where(user_tokens.c.user_id == bindparam("user_id", type_=Integer))
    .order_by(user_tokens.c.id)
)
_SESSION = select(sessions.c.id, sessions.c.user_id, sessions.c.token, sessions.c.expires_at).where(
    sessions.c.hash == bindparam("hash", type_=String)
)
_SESSION_ALIVE = select(sessions.c.expires_at).where(
    sessions.c.id == bindparam("id", type_=Integer)
)
_PASSKEY = select(passkeys).where(
    passkeys.c.credential_id == bindparam("credential_id", type_=String)
)
_AUDIT = (
    select(audit.c.at, audit.c.actor, audit.c.action, audit.c.target, audit.c.address)
    .order_by(audit.c.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
_ACCOUNT_COUNTS = (
    select(jobs.c.account_id, jobs.c.state, func.count())
    .where(jobs.c.state.in_(BUSY))
    .group_by(jobs.c.account_id, jobs.c.state)
)
# ``account_usage``'s reads, in one snapshot.
_MINE = jobs.c.account_id == bindparam("account", type_=Integer)
_BUSY_OF = select(func.count()).where(_MINE, jobs.c.state.in_(BUSY))
_ENDED_OF = select(func.count()).where(
    _MINE, jobs.c.state.in_([s.value for s in JobState if s.terminal])
)
_BYTES_OF = (
    select(func.coalesce(func.sum(items.c.size), 0))
    .select_from(items.join(jobs, items.c.job_id == jobs.c.id))
    .where(_MINE, items.c.created_at >= bindparam("since", type_=Float))
)
_WATCH_ACCOUNTS = select(watches.c.id, watches.c.account_id)
