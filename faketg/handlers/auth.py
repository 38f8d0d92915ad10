"""Handlers for the auth area (to be filled in)."""

from typing import Any

HANDLERS: dict[type, Any] = {}
