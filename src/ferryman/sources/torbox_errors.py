"""TorBox's answers that are not a success, as ferryman's codes: its documented error
codes (``{"success": false, "error": CODE, "detail"}``; 403 is a refused key, 400 the
caller's fault, 500 its own) read one by one, so a torrent it refuses fails at once
and a limit of the account waits, instead of both being retried as ``torbox.api``."""

from __future__ import annotations

from typing import Any

from ferryman.errors import FerrymanError, ServerWait

NOT_READY_WAIT = 60  # seconds before asking again, when the API says "not cached yet"
_AUTH = ("NO_AUTH", "BAD_TOKEN", "AUTH_ERROR")
_CODES = {  # its error code -> ferryman's code (api-docs.torbox.app, "Errors Table")
    "ITEM_NOT_FOUND": "torbox.not_found",
    "BOZO_TORRENT": "debrid.refused",
    "DOWNLOAD_TOO_LARGE": "debrid.refused",
    "TOO_MUCH_DATA": "debrid.refused",
    "MISSING_REQUIRED_OPTION": "debrid.refused",
    "INVALID_OPTION": "debrid.refused",
    "TOO_MANY_OPTIONS": "debrid.refused",
    "LINK_OFFLINE": "debrid.refused",
    "PLAN_RESTRICTED_FEATURE": "debrid.premium",
    "ACTIVE_LIMIT": "debrid.limit",
    "MONTHLY_LIMIT": "debrid.limit",
    "COOLDOWN_LIMIT": "debrid.limit",
}


def torbox_error(status: int, body: Any, where: str) -> FerrymanError:
    """The error of an answer that is no success (``where`` names the item asked)."""
    said = body if isinstance(body, dict) else {}
    detail = str(said.get("detail") or said.get("error") or f"HTTP {status}")
    error = str(said.get("error") or "").upper()
    if status in (401, 403) or error in _AUTH:
        return FerrymanError("torbox.auth", f"Torbox refused the API key: {detail}")
    data = said.get("data")
    at_limit = isinstance(data, dict) and "active_limit" in data  # its example: error null
    code = _CODES.get(error) or ("debrid.limit" if at_limit else None)
    if code is not None:
        return FerrymanError(code, f"{where}: Torbox says: {error or 'limit'}: {detail}")
    if "NOT_CACHED" in error or "NOT_READY" in error or "DOWNLOADING" in error:
        return ServerWait("torbox.not_ready", f"{where}: {detail}", NOT_READY_WAIT)
    if status == 404 and error != "ENDPOINT_NOT_FOUND":
        return FerrymanError("torbox.not_found", f"{where}: {detail}")
    return FerrymanError("torbox.api", f"{where}: Torbox says: {detail}")
