"""A Google Takeout exported as ``.tgz`` (``takeout-…-001.tgz``, ``-002.tgz``: each part
a whole gzip'd tar) delivered to a library as its zips are: the generated export of
``test_takeout`` (every naming variant, a sidecar in the other part than its photo, a
photo in its year folder and in albums), its tars made by Python's ``tarfile`` and by
GNU ``tar czf``. Every date and place right, no sidecar delivered, each photo once,
its albums linked to it; a part cut short: the other part's photos delivered, the
fault said."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from ferryman.engine.ops.phases import READING
from tests.engine.test_takeout import check_library, cli, digest, photos, takeout_files

GNU_TAR = shutil.which("tar")


def tgz_parts(
    folder: Path, maker: str, *, parts_of: int = 2
) -> tuple[list[Path], dict[str, bytes]]:
    """The generated export's parts as ``.tgz`` files in ``folder``, made by ``maker``
    (``tarfile``, or ``gnu``: GNU tar over the files written out), and each photo's
    bytes by its path in the export."""
    parts, content = takeout_files(folder, parts_of=parts_of)
    shutil.rmtree(folder / "made")
    made = []
    for number, files in parts.items():
        path = folder / f"takeout-20240115T101112Z-00{number}.tgz"
        if maker == "tarfile":
            with tarfile.open(path, "w:gz") as tar:
                for name, data in sorted(files.items()):
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime = len(data), 1_705_313_472
                    tar.addfile(info, io.BytesIO(data))
        else:
            tree = folder.parent / f"tree-{number}"
            for name, data in files.items():
                (tree / name).parent.mkdir(parents=True, exist_ok=True)
                (tree / name).write_bytes(data)
            assert GNU_TAR is not None
            subprocess.run([GNU_TAR, "czf", str(path), "-C", str(tree), "Takeout"], check=True)
            shutil.rmtree(tree)
        made.append(path)
    return made, content


@pytest.mark.parametrize(("maker", "given"), [("tarfile", "first part"), ("gnu", "folder")])
def test_a_tgz_takeout_is_delivered_as_its_zips_are(tmp_path: Path, maker: str, given: str) -> None:
    parts, content = tgz_parts(tmp_path / "in", maker)
    where = parts[0] if given == "first part" else tmp_path / "in"
    library = tmp_path / "Library"
    ran = cli(tmp_path / "data", None, "add", "--run", "--to", f"library:{library}", str(where))
    assert ran.exit_code == 0, ran.output
    by_digest, names = check_library(library, content)  # every date and place, each once
    assert "archive_browser.html" in names
    links = sorted(p for p in library.rglob("*") if p.is_symlink())
    eiffel = by_digest[digest(content[photos()[0].path])][0]
    assert eiffel.parent.name == "Photos from 2019"  # its year folder's copy kept
    shown = eiffel.parent.parent / "Paris trip" / eiffel.name
    assert os.readlink(shown) == f"../Photos from 2019/{eiffel.name}"  # its album's: a link
    assert len(links) == 6, links  # 3 albums' links (a photo and its XMP), as from zips


def test_a_part_cut_short_delivers_the_other_and_says_so(tmp_path: Path) -> None:
    """The second part cut in its middle: the first part's photos are delivered with
    their dates and places, the fault is reported, the job does not end at the index."""
    parts, content = tgz_parts(tmp_path / "in", "tarfile")
    whole = parts[1].read_bytes()
    parts[1].write_bytes(whole[: len(whole) // 2])
    library = tmp_path / "Library"
    ran = cli(tmp_path / "data", None, "add", "--run", "--to", f"library:{library}", str(parts[0]))
    assert ran.exit_code != 0 and "failed archive.truncated" in ran.output, ran.output
    assert "takeout-20240115T101112Z-002.tgz" in ran.output  # the part at fault named
    first = [p for p in photos() if p.part == 1 and p.sidecar_part == 1 and not p.albums]
    assert len(first) >= 15
    by_digest, _ = check_library(library, content, None, first)
    assert all(len(by_digest[digest(content[p.path])]) == 1 for p in first)


def test_the_index_pass_shows_as_the_jobs_reading_before_its_first_entry(tmp_path: Path) -> None:
    """A .tgz is read through to index it before its first entry: minutes for a big part,
    during which the job's reading shows its share, speed and time left (``--json``:
    ``job_fetching`` events of the ``reading`` phase, rising to the parts' size on disk),
    and then its entries, not a bar that sat without a figure."""
    parts, _ = tgz_parts(tmp_path / "in", "tarfile")
    library = tmp_path / "Library"
    ran = cli(
        tmp_path / "data",
        None,
        "--json",
        "add",
        "--run",
        "--to",
        f"library:{library}",
        str(parts[0]),
    )
    assert ran.exit_code == 0, ran.output
    lines = [json.loads(line) for line in ran.output.splitlines() if line.startswith("{")]
    events = [e for e in lines if "event" in e]  # the job's line, then its events
    kinds = [e["event"] for e in events]
    told = [e for e in events if e["event"] == "job_fetching"]
    assert told and all(e["phase"] == READING for e in told), told
    assert kinds.index("job_fetching") < kinds.index("job_progress")  # before the entries
    size = sum(p.stat().st_size for p in parts)
    done = [e["done"] for e in told]
    assert done == sorted(done) and all(e["total"] == size for e in told)
    assert told[-1]["done"] == size and told[-1]["fraction"] == 1.0  # the index's end
    last = max(i for i, k in enumerate(kinds) if k == "job_fetching")
    assert last < kinds.index("job_progress")  # no download figure after the index
