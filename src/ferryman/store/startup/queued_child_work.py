"""A look into a SQLite queue before the store opens: does queued work run in child
processes (a media link's download, a conversion)?

The CLI asks first thing, so that only then the template children fork from
(``media.child.warm``) loads while the engine does: the template holds ~80 MB that an
archive of photos never uses. The store itself takes half a second to load, which is
what the template would otherwise overlap; so this uses the standard library's sqlite3,
read-only, and any doubt (PostgreSQL, no database yet, a lock, an older schema) is a no.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import NamedTuple
from urllib.parse import quote

from ferryman.links.uri import SCHEME
from ferryman.store.startup.sqlite3_store import sqlite_path

_CHILD_WORK = """
SELECT EXISTS (
    SELECT 1 FROM fetches JOIN jobs ON jobs.id = fetches.job_id
    WHERE fetches.state IN ('queued', 'fetching') AND jobs.source LIKE ? || ':%'
), EXISTS (
    SELECT 1 FROM items WHERE items.state IN ('convert', 'converting')
)
"""


class ChildWork(NamedTuple):
    """What the queue holds that runs in child processes: media links to fetch (yt-dlp's
    children), items to convert."""

    links: bool = False
    converts: bool = False

    @property
    def any(self) -> bool:
        return self.links or self.converts


def queued_child_work(database_url: str) -> ChildWork:
    """The queued work that will run in child processes soon (see the module docstring)."""
    path = sqlite_path(database_url)
    if path is None or not path.is_file():
        return ChildWork()
    address = f"file:{quote(str(path))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(address, uri=True, timeout=0.1)) as db:
            row = db.execute(_CHILD_WORK, (SCHEME,)).fetchone()
    except sqlite3.Error:
        return ChildWork()
    return ChildWork(bool(row[0]), bool(row[1])) if row else ChildWork()
