"""Stands for a sink's heavy import (PyAV): says which thread imported it."""

from __future__ import annotations

import threading

IMPORTED_BY = threading.current_thread().name
