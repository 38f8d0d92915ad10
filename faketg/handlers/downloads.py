"""Handlers for the downloads area (to be filled in)."""

from typing import Any

HANDLERS: dict[type, Any] = {}
