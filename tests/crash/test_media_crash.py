"""Kill `ferryman run` while it transcodes: finished segments are not encoded again.

The evidence is the store: each finished part is a row whose ``reports`` counts how
often it was reported done, so a segment encoded twice would show 2.
"""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import av
import psutil
import pytest

from ferryman.media.probe import probe
from ferryman.media.segmented import plan_segments
from tests.crash.test_crash import _add, _cli, _env
from tests.media.test_media_probe_plan import write_video
from tests.support.engine_helpers import library_files
from tests.support.waiting import eventually_sync

SECONDS = 20.0
FPS = 25


def _parts(db: Path) -> dict[int, tuple[int, float]]:
    """part -> (reports, created_at) for every recorded transcode part."""
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT part, reports, created_at FROM segments").fetchall()
    return {part: (reports, created) for part, reports, created in found}


def _wait_for_video_parts(db: Path, count: int, limit: float) -> None:
    def recorded() -> bool:
        if not db.exists():
            return False
        try:
            return sum(1 for part in _parts(db) if part >= 0) >= count
        except sqlite3.OperationalError:
            return False  # the table is not there yet, or the database is busy

    eventually_sync(recorded, f"{count} video segments recorded", within=limit)


@pytest.mark.slow
def test_sigkill_mid_transcode_redoes_only_the_segment_in_progress(tmp_path: Path) -> None:
    source = write_video(
        tmp_path / "clip.mkv",
        vcodec="libx265",
        size=(320, 240),
        seconds=SECONDS,
        video_options={"x265-params": "keyint=25:min-keyint=25:scenecut=0:log-level=error"},
    )
    data = tmp_path / "data"
    env = _env(
        data,
        FERRYMAN_MEDIA__SEGMENT_SECONDS="2",
        FERRYMAN_CONVERT__PRESET="slow",  # slow enough that the kill lands mid-way
        FERRYMAN_MEDIA__LIBRARY_CONVERT="true",  # a library keeps HEVC unless asked
        # The default lease: the killed run's is handed back at the next start (the data
        # dir's lock shows it dead). A 1 s one lapsed under load (load 40): the encode step
        # was cancelled and claimed again, and its segment in progress encoded twice.
    )
    _add([source], env)
    db = data / "ferryman.db"

    run = _cli("run", "--until-idle", env=env)
    _wait_for_video_parts(db, 2, limit=120)
    children = psutil.Process(run.pid).children(recursive=True)
    run.send_signal(signal.SIGKILL)
    run.wait(10)
    assert run.returncode == -signal.SIGKILL, "the run ended before the kill"
    before = _parts(db)
    assert -1 in before, "the audio is encoded first, once"
    segments = len(plan_segments(source, 2.0))
    assert segments >= 5
    assert len([p for p in before if p >= 0]) < segments, "everything finished before the kill"
    # The encoder dies with its parent: no orphan keeps writing parts.
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []

    again = _cli("run", "--until-idle", env=env)
    assert again.wait(300) == 0, again.stderr.read() if again.stderr else ""

    after = _parts(db)
    for part, (_reports, created) in before.items():
        assert after[part] == (1, created), f"part {part} was encoded again"
    assert set(after) == {-1, *range(segments)}
    assert {reports for reports, _ in after.values()} == {1}

    (entry,) = library_files(data / "library")
    delivered = Path(entry["path"])  # where it lies, in either library layout
    info = probe(delivered)
    assert info.video_codec == "h264" and info.faststart is True
    assert info.duration is not None and abs(info.duration - SECONDS) < 0.1
    with av.open(str(delivered)) as video:
        frames = sum(1 for _ in video.decode(video=0))
    assert frames == round(SECONDS * FPS)  # decodes from the first frame to the last
