"""A zip made in memory from names and bytes, for tests that need one small archive."""

from __future__ import annotations

import io
import zipfile


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """A zip of ``entries`` (name: content), in their order, stored as zipfile writes."""
    made = io.BytesIO()
    with zipfile.ZipFile(made, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return made.getvalue()
