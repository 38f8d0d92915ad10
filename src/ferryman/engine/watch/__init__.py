"""The watch stage: a due watch checked, its new entries made jobs through intake; a
watched folder's change notices wake it early."""

from ferryman.engine.watch.check import Checker, Found, next_in_window, parse_window
from ferryman.engine.watch.notified import FolderChanges

__all__ = ["Checker", "FolderChanges", "Found", "next_in_window", "parse_window"]
