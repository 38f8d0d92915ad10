"""Names and lines made safe: a delivered name keeps no bidi control or other format
character (``in_side\\u202egpj.mp4`` showed as ``in_side4pm.jpg``), and a path's
control characters (ESC, BEL, CR, a bidi override) reach the terminal and the logs as
escapes, never raw: the CLI's stdout and stderr and its log handler."""

from __future__ import annotations

import logging
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.frontdoors.cli.root import app
from ferryman.fsutil import safe_name
from ferryman.model import JobState
from ferryman.printable import EscapingFormatter, printable
from ferryman.samples import make_photo
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import library_files, run_until_idle

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here

RAW = ("\x1b", "\x07", "\r", "\u202e")
HOSTILE = "a\x1b[31mb\x07c\rd\u202egpj"  # red, a bell, back to the line's start, reversed


def test_a_safe_name_drops_bidi_controls_and_format_characters() -> None:
    assert safe_name("in_side\u202egpj.mp4") == "in_sidegpj.mp4"
    bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    assert safe_name(f"a{bidi}b\ufeff\u00ad\u2060c.jpg") == "abc.jpg"  # BOM, soft hyphen, WJ
    assert safe_name("x\x1by\x7fz\x9b.jpg") == "x_y_z_.jpg"  # C0, DEL, C1
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467.jpg"  # joiners make one emoji
    assert safe_name(family) == family
    assert safe_name("\u202e\u2066") == "file"  # nothing left: the fallback


@pytest.mark.slow  # runs the engine, whose archive reader is a child process
async def test_a_zip_entry_named_with_a_bidi_override_is_delivered_without_it(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    photo = make_photo(tmp_path / "p.jpg", 1)
    archive = tmp_path / "in" / "trip\u202e.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(photo, "in_side\u202egpj.jpg")
        zf.write(photo, "b\u2067c\u200f.jpg")
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings)
    assert (await store.get_job(job.id)).state is JobState.DONE
    files = sorted(Path(f["album_dir"]).relative_to(settings.library) / f["file"]
                   for f in library_files(settings.library))  # fmt: skip
    assert [str(f).rpartition("/")[2] for f in files] == ["bc.jpg", "in_sidegpj.jpg"]
    assert {f.parts[0] for f in files} == {"trip"}
    assert not any(ch in str(f) for f in files for ch in RAW)


def test_printable_escapes_controls_once_and_keeps_the_rest() -> None:
    assert printable(HOSTILE) == "a\\x1b[31mb\\x07c\\x0dd\\u202egpj"
    assert printable(printable(HOSTILE)) == printable(HOSTILE)  # idempotent
    assert printable("one\ntwo\tx") == "one\\x0atwo\\x09x"  # a record is one line
    assert printable("one\ntwo\tx", lines=True) == "one\ntwo\tx"  # a table's layout
    assert printable("\x00\x7f\x85\u2028\u2066") == "\\x00\\x7f\\x85\\u2028\\u2066"
    assert printable("写真 😀 ü \u200d") == "写真 😀 ü \u200d"


def test_the_cli_prints_a_path_s_control_characters_escaped(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "p.jpg", 1)
    hostile = photo.rename(tmp_path / f"{HOSTILE}.jpg")
    data = tmp_path / "data"
    added = CliRunner().invoke(app, ["--data-dir", str(data), "add", str(hostile)])
    assert added.exit_code == 0, added.output
    assert "a\\x1b[31mb\\x07c\\x0dd\\u202egpj.jpg" in added.stdout
    missing = CliRunner().invoke(app, ["--data-dir", str(data), "add", f"{tmp_path}/no{HOSTILE}"])
    assert missing.exit_code == 1
    assert "no" + printable(HOSTILE) in missing.stderr, missing.stderr
    listed = CliRunner().invoke(app, ["--data-dir", str(data), "status"])
    assert "a_[31mb_c_dgpj" in listed.stdout  # the job's name is a safe name
    for text in (added.stdout, missing.stderr, listed.stdout):
        assert not any(ch in text for ch in RAW), repr(text)


@pytest.mark.slow  # starts a child process
def test_the_cli_s_log_lines_escape_control_characters(tmp_path: Path) -> None:
    """The handler the CLI installs (in a process of its own: pytest's handlers would
    make ``basicConfig`` a no-op here); a traceback keeps its lines."""
    script = (
        "import logging, sys\n"
        "from ferryman.frontdoors.cli.root import app\n"
        f"app(['--data-dir', {str(tmp_path / 'data')!r}, '-v', 'status'], standalone_mode=False)\n"
        "log = logging.getLogger('ferryman.test')\n"
        f"log.warning('could not keep %s', {HOSTILE!r} + '\\nFAKE forged record')\n"
        "try:\n"
        f"    raise ValueError({HOSTILE!r})\n"
        "except ValueError:\n"
        "    log.exception('boom')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    lines = done.stderr.splitlines()
    kept = next(line for line in lines if "could not keep" in line)
    assert kept.endswith(f"could not keep {printable(HOSTILE)}\\x0aFAKE forged record")
    assert not any(line.startswith("FAKE") for line in lines)  # no forged record
    assert f"ValueError: {printable(HOSTILE)}" in lines  # the traceback's last line
    assert not any(ch in done.stderr for ch in RAW), repr(done.stderr)


def test_the_formatter_keeps_a_traceback_s_lines(tmp_path: Path) -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "m %s", ("\x1b",), None)
    assert EscapingFormatter("%(message)s").format(record) == "m \\x1b"
