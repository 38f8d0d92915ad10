"""What ``config show`` (and the page, a notice's log) may print of the settings: the
effective values as plain data, every password, token and key hidden."""

from __future__ import annotations

import re
from typing import Any

from ferryman.config import Settings

SECRET_KEYS = frozenset({"database_url"})
SECRET_NESTED = frozenset(  # paths into the settings, any depth
    {
        ("telegram", "api_hash"),
        ("telegram", "bot_token"),
        ("torbox", "api_key"),
        ("debrid", "realdebrid", "api_key"),
        ("debrid", "alldebrid", "api_key"),
        ("debrid", "premiumize", "api_key"),
        ("debrid", "debridlink", "api_key"),
        ("results", "s3", "secret_key"),
        ("notify", "webhook_secret"),
    }
)
SECRET_LISTS = frozenset({"passwords"})


def mask_secrets(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, with passwords in URLs hidden."""
    data = settings.model_dump(mode="json")
    for key in SECRET_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            data[key] = re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", value)
    for key in SECRET_LISTS:
        data[key] = ["***"] * len(data.get(key) or [])
    for *sections, key in SECRET_NESTED:
        holder: Any = data
        for section in sections:
            holder = holder.get(section) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and holder.get(key):
            holder[key] = "***"
    notify = data.get("notify", {})  # an Apprise URL holds its service's token
    notify["urls"] = [url.split("://", 1)[0] + "://***" for url in notify.get("urls", [])]
    for login in data.get("webdav", {}).get("hosts", {}).values():
        if login.get("password"):
            login["password"] = "***"
    data["effective"] = {
        "database": re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", settings.database),
        "library": str(settings.library),
        "work_dir": str(settings.work_dir),
        "quarantine_dir": str(settings.quarantine_dir),
    }
    return data
