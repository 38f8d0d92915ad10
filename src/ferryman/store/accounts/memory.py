"""The memory store's accounts (``store/accounts/sql`` without SQL): people, their tokens,
passkeys, chat link codes and the audit, on dicts with the schema's columns."""

from __future__ import annotations

import json
from typing import Any

from ferryman.clock import SYSTEM
from ferryman.errors import FerrymanError
from ferryman.model import JobState
from ferryman.store.accounts.sql import (
    BUSY,
    RUNNING,
    AuditRow,
    Passkey,
    Session,
    User,
    user_from,
)
from ferryman.store.memory.base import MemoryBase, Row
from ferryman.store.shared.rows import Clock

_TABLES = ("users", "user_tokens", "passkeys", "sessions", "audit")


class MemoryAccounts(MemoryBase):
    def __init__(self, clock: Clock = SYSTEM.now) -> None:
        super().__init__(clock)
        for name in _TABLES:
            self.tables[name] = {}
            self._ids[name] = 0
        self.link_codes: dict[str, tuple[int, float]] = {}

    def _unique(self, table: str, column: str, value: Any, row_id: int | None = None) -> None:
        for row in self.tables[table].values():
            if value is not None and row[column] == value and row["id"] != row_id:
                raise FerrymanError("account.exists", f"{column} {value!r} is taken already")

    async def add_user(self, name: str, password_hash: str | None, admin: bool = False) -> User:
        try:
            self._unique("users", "name", name)
        except FerrymanError:
            raise FerrymanError("account.exists", f"there is an account {name!r} already") from None
        values = {"name": name, "password_hash": password_hash, "admin": admin}
        row_id = self.insert("users", values | {"settings": "{}", "created_at": self.clock()})
        return user_from(self.tables["users"][row_id])

    async def users(self) -> list[User]:
        return [user_from(r) for _, r in sorted(self.tables["users"].items())]

    def _find(self, column: str, value: Any) -> User | None:
        for row in self.tables["users"].values():
            if row[column] == value:
                return user_from(row)
        return None

    async def user(self, user_id: int) -> User | None:
        return self._find("id", user_id)

    async def user_named(self, name: str) -> User | None:
        return self._find("name", name)

    async def user_of_telegram(self, tg_user_id: int) -> User | None:
        return self._find("tg_user_id", tg_user_id)

    async def remove_user(self, user_id: int) -> bool:
        for table in ("user_tokens", "passkeys", "sessions"):
            rows = self.tables[table]
            for key in [k for k, r in rows.items() if r["user_id"] == user_id]:
                del rows[key]
        for code in [c for c, (u, _) in self.link_codes.items() if u == user_id]:
            del self.link_codes[code]
        for row in (*self.tables["jobs"].values(), *self.tables["watches"].values()):
            if row["account_id"] == user_id:
                row["account_id"] = None
        return self.tables["users"].pop(user_id, None) is not None

    async def update_user(self, user_id: int, **values: Any) -> None:
        if "settings" in values:
            values["settings"] = json.dumps(values["settings"], sort_keys=True)
        if "tg_user_id" in values:
            try:
                self._unique("users", "tg_user_id", values["tg_user_id"], user_id)
            except FerrymanError:
                raise FerrymanError("account.exists", "linked to another account already") from None
        row = self.tables["users"].get(user_id)
        if row is not None:
            row |= values
        if "password_hash" in values:
            await self.end_sessions(user_id)

    async def add_user_token(self, user_id: int, hashed: str, label: str) -> int:
        self._unique("user_tokens", "hash", hashed)
        values = {"user_id": user_id, "hash": hashed, "label": label}
        return self.insert("user_tokens", values | {"created_at": self.clock()})

    async def user_of_token(self, hashed: str) -> User | None:
        for row in self.tables["user_tokens"].values():
            if row["hash"] == hashed:
                return await self.user(row["user_id"])
        return None

    async def user_token_id(self, hashed: str) -> int | None:
        for row in self.tables["user_tokens"].values():
            if row["hash"] == hashed:
                return int(row["id"])
        return None

    async def user_token_list(self, user_id: int) -> list[dict[str, Any]]:
        rows = sorted(self.tables["user_tokens"].items())
        return [
            {"id": r["id"], "label": r["label"], "created_at": r["created_at"]}
            for _, r in rows
            if r["user_id"] == user_id
        ]

    async def remove_user_token(self, user_id: int, token_id: int) -> bool:
        row = self.tables["user_tokens"].get(token_id)
        if row is None or row["user_id"] != user_id:
            return False
        del self.tables["user_tokens"][token_id]
        return True

    async def add_session(
        self, hashed: str, user_id: int | None, token: str | None, expires_at: float
    ) -> int:
        rows = self.tables["sessions"]
        for key in [k for k, r in rows.items() if r["expires_at"] < self.clock()]:
            del rows[key]
        self._unique("sessions", "hash", hashed)
        values = {"hash": hashed, "user_id": user_id, "token": token, "expires_at": expires_at}
        return self.insert("sessions", values | {"created_at": self.clock()})

    async def session(self, hashed: str) -> Session | None:
        for r in self.tables["sessions"].values():
            if r["hash"] == hashed and r["expires_at"] >= self.clock():
                user = await self.user(r["user_id"]) if r["user_id"] is not None else None
                if r["user_id"] is not None and user is None:
                    return None
                return Session(r["id"], user, r["token"], r["expires_at"])
        return None

    async def session_alive(self, session_id: int) -> bool:
        row = self.tables["sessions"].get(session_id)
        return row is not None and row["expires_at"] >= self.clock()

    async def end_session(self, hashed: str) -> bool:
        rows = self.tables["sessions"]
        found = [k for k, r in rows.items() if r["hash"] == hashed]
        for key in found:
            del rows[key]
        return bool(found)

    async def end_sessions(self, user_id: int, keep: int | None = None) -> int:
        rows = self.tables["sessions"]
        found = [k for k, r in rows.items() if r["user_id"] == user_id and k != keep]
        for key in found:
            del rows[key]
        return len(found)

    async def add_passkey(
        self, user_id: int, credential_id: str, public_key: str, count: int
    ) -> None:
        self._unique("passkeys", "credential_id", credential_id)
        values = {"user_id": user_id, "credential_id": credential_id, "public_key": public_key}
        self.insert("passkeys", values | {"sign_count": count, "created_at": self.clock()})

    async def passkey(self, credential_id: str) -> Passkey | None:
        for r in self.tables["passkeys"].values():
            if r["credential_id"] == credential_id:
                return Passkey(
                    r["id"], r["user_id"], r["credential_id"], r["public_key"], r["sign_count"]
                )
        return None

    async def passkey_used(self, passkey_id: int, count: int) -> None:
        row = self.tables["passkeys"].get(passkey_id)
        if row is not None:
            row["sign_count"] = count

    async def add_link_code(self, user_id: int, hashed: str, expires_at: float) -> None:
        for code in [c for c, (u, _) in self.link_codes.items() if u == user_id]:
            del self.link_codes[code]
        self.link_codes[hashed] = (user_id, expires_at)

    async def take_link_code(self, hashed: str) -> int | None:
        found = self.link_codes.pop(hashed, None)
        if found is None or found[1] < self.clock():
            return None
        return found[0]

    async def add_audit(self, actor: str, action: str, target: str, address: str) -> None:
        values = {"actor": actor, "action": action, "target": target, "address": address}
        self.insert("audit", values | {"at": self.clock()})

    async def audit_log(self, limit: int = 200) -> list[AuditRow]:
        rows = sorted(self.tables["audit"].items(), reverse=True)[:limit]
        return [
            AuditRow(r["at"], r["actor"], r["action"], r["target"], r["address"]) for _, r in rows
        ]

    async def account_counts(self) -> dict[int | None, dict[str, int]]:
        found: dict[int | None, dict[str, int]] = {}
        for job in self.tables["jobs"].values():
            if job["state"] in BUSY:
                mine = found.setdefault(job["account_id"], {"busy": 0, "running": 0})
                mine["busy"] += 1
                mine["running"] += job["state"] in RUNNING
        return found

    async def account_usage(self, account: int, since: float) -> dict[str, int]:
        mine: list[Row] = [j for j in self.tables["jobs"].values() if j["account_id"] == account]
        ids = {j["id"] for j in mine}
        size = sum(
            i["size"]
            for i in self.tables["items"].values()
            if i["job_id"] in ids and i["created_at"] >= since
        )
        return {
            "busy": sum(j["state"] in BUSY for j in mine),
            "ended": sum(JobState(j["state"]).terminal for j in mine),
            "bytes": size,
        }

    async def watch_accounts(self) -> dict[int, int | None]:
        return {w["id"]: w["account_id"] for w in self.tables["watches"].values()}

    async def set_watch_account(self, watch_id: int, account: int | None) -> None:
        row = self.tables["watches"].get(watch_id)
        if row is not None:
            row["account_id"] = account
