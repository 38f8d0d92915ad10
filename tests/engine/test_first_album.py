"""The first album's fixed costs (issue 36): what its path no longer pays."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from ferryman.engine.read.folder_name import FolderName


def test_a_zip_opens_without_the_7zz_modules(tmp_path: Path) -> None:
    """7zz's backend is imported when an archive needs it, not with every opening."""
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("A/one.txt", b"one")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ferryman.archive.opener import open_archive\n"
        f"with open_archive(Path({str(archive)!r})) as reader:\n"
        "    names = [entry.info.path for entry in reader]\n"
        "print(names, 'ferryman.archive.sevenzip.backend' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "['A/one.txt'] False"


def test_the_listing_names_the_job_before_any_entry_is_read() -> None:
    assert FolderName(["Holiday/a.jpg", "Holiday/b/c.jpg"]).from_listing() == "Holiday"
    assert FolderName(["Holiday/a.jpg", "top.jpg"]).from_listing() is None
    assert FolderName(["A/a.jpg", "B/b.jpg"]).from_listing() is None
    assert FolderName([]).from_listing() is None
    assert FolderName(None).from_listing() is None
