"""An archive whose entries all lie in one folder is called that (``album.zip`` holding
``Holiday 2024/`` → the job ``Holiday 2024``): its library folder, its zip link's name
and its Telegram caption then say what people named it, not what its file was called.

The name must be chosen before the job's first album is sealed (every album goes under
one name), which is before the whole input is read when it is large. So it is chosen
from the first batch of entries only when that batch is the whole input, or when the
input's every name is known up front: a zip's central directory, read cheaply. A tar
read as it streams or a large 7z keeps its file's name rather than be named wrongly by
its first entries.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from ferryman.archive.names import is_junk, sanitize_path
from ferryman.naming import top_folder


def zip_names(path: Path | None) -> list[str] | None:
    """A local zip's file names, made safe as its reader makes them; None when ``path``
    is not a zip on this machine (blocking: the reading thread's work)."""
    if path is None or not path.is_file() or not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    return [sanitize_path(name, i) for i, name in enumerate(names) if not is_junk(name)]


@dataclass(frozen=True, slots=True)
class FolderName:
    """The rule for one read of one input: ``listed``, its every name when known."""

    listed: list[str] | None

    def chosen(self, first: list[str], *, ended: bool) -> str | None:
        """The folder to name the job after, from the first batch's delivered paths."""
        folder = top_folder(first)
        if folder is None or ended:
            return folder
        if self.listed is not None and top_folder(self.listed) == folder:
            return folder
        return None
