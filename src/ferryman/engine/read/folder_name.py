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
from ferryman.archive.stored_names import zip_member_names
from ferryman.naming import top_folder


def zip_names(path: Path | None) -> list[str] | None:
    """A local zip's file names, as far as its one top folder goes: each name's first
    folder made safe as its reader makes it (``sanitize_path``), and whether it lies in
    one; None when ``path`` is not a zip on this machine (blocking: the reading
    thread's work, about as long as zipfile's own ``namelist``)."""
    if path is None or not path.is_file() or not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = zip_member_names([i for i in archive.infolist() if not i.is_dir()])
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    safe: dict[str, str] = {}
    found = []
    for name in names:
        if is_junk(name):
            continue
        parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
        if len(parts) < 2:
            found.append(parts[0] if parts else name)  # at the top: no folder
            continue
        if parts[0] not in safe:
            safe[parts[0]] = sanitize_path(parts[0], 0)
        found.append(f"{safe[parts[0]]}/{parts[-1]}")
    return found


@dataclass(frozen=True, slots=True)
class FolderName:
    """The rule for one read of one input: ``listed``, its every name when known."""

    listed: list[str] | None

    def from_listing(self) -> str | None:
        """The folder when the input's every name lies in it: the job can be named
        before its first entry is read (off the first album's way), since every batch,
        the first one too, lies in it."""
        return top_folder(self.listed) if self.listed else None

    def chosen(self, first: list[str], *, ended: bool) -> str | None:
        """The folder to name the job after, from the first batch's delivered paths."""
        folder = top_folder(first)
        if folder is None or ended:
            return folder
        if self.listed is not None and top_folder(self.listed) == folder:
            return folder
        return None
