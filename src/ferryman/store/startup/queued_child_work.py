"""A look into a SQLite queue before the store opens: does queued work run in child
processes (a media link's download, a conversion)?

The CLI asks first thing, so that only then the template children fork from
(``media.child.warm``) loads while the engine does: the template holds ~70 MB that an
archive of photos never uses. The store itself takes half a second to load, which is
what the template would otherwise overlap; so this uses the standard library's sqlite3,
read-only, and any doubt (PostgreSQL, no database yet, a lock, an older schema) is a no.
"""

from __future__ import annotations

import contextlib
import sqlite3
from urllib.parse import quote

from ferryman.links.uri import SCHEME
from ferryman.store.startup.sqlite3_store import sqlite_path

_CHILD_WORK = """
SELECT EXISTS (
    SELECT 1 FROM fetches JOIN jobs ON jobs.id = fetches.job_id
    WHERE fetches.state IN ('queued', 'fetching') AND jobs.source LIKE ? || ':%'
) OR EXISTS (
    SELECT 1 FROM items WHERE items.state IN ('convert', 'converting')
)
"""


def children_wanted(database_url: str) -> bool:
    """Whether queued work will run in child processes soon (see the module docstring)."""
    path = sqlite_path(database_url)
    if path is None or not path.is_file():
        return False
    address = f"file:{quote(str(path))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(address, uri=True, timeout=0.1)) as db:
            row = db.execute(_CHILD_WORK, (SCHEME,)).fetchone()
    except sqlite3.Error:
        return False
    return bool(row and row[0])
