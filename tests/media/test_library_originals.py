"""A library keeps what media servers play (issue 58, item 2): a 4K 10-bit HEVC clip, a
HEIC, a WebP, an animated GIF and an MP4 whose index comes last (issue 79: no longer
remuxed) arrive byte for byte. Asked to convert (``?convert=yes``, ``add --convert``),
the same clip becomes an H.264 1080p MP4 and the report names the downscale. Real media
made by PyAV, pillow-heif and Pillow; the real engine."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pillow_heif
import pytest
from PIL import Image

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake, report
from ferryman.model import JobState
from ferryman.samples import make_photo, make_video
from ferryman.store import Store
from tests.support.contract import memory_store
from tests.support.engine_helpers import run_until_idle, sha256

__all__ = ["memory_store"]  # the engine on the memory store: no database is tested here


@pytest.fixture(autouse=True)
def _originals(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite pins older tests to a converting library (conftest); these test the
    default, and the layout a media server reads."""
    monkeypatch.delenv("FERRYMAN_MEDIA__LIBRARY_CONVERT", raising=False)
    monkeypatch.delenv("FERRYMAN_LIBRARY_LAYOUT", raising=False)


def _settings(tmp_path: Path) -> Settings:
    values = {"data_dir": tmp_path / "data", "poll_seconds": 0.05, "space_floor": 0}
    return load_settings(None, values)


def _hevc_4k_10bit(path: Path) -> Path:
    """Two frames of 3840x2160 10-bit HEVC in Matroska, as a phone's 4K clip is."""
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream(
            "libx265", rate=25, options={"x265-params": "log-level=error", "preset": "ultrafast"}
        )
        stream.width, stream.height, stream.pix_fmt = 3840, 2160, "yuv420p10le"
        for n in range(2):
            frame = av.VideoFrame.from_image(Image.new("RGB", (3840, 2160), (n * 90, 40, 200)))
            frame = frame.reformat(format="yuv420p10le")
            frame.pts, frame.time_base = n, Fraction(1, 25)  # a muxer wants rising times
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    heic = folder / "IMG_0002.heic"
    pillow_heif.from_pillow(Image.open(make_photo(folder / "p.jpg", 2))).save(heic, quality=60)
    (folder / "p.jpg").unlink()
    webp = folder / "shot.webp"
    Image.open(make_photo(folder / "q.jpg", 3)).save(webp, "WEBP")
    (folder / "q.jpg").unlink()
    frames = [Image.new("P", (64, 48), n * 40) for n in range(4)]
    gif = folder / "loop.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=80, loop=0)
    return {
        "clip.mkv": _hevc_4k_10bit(folder / "clip.mkv"),
        "IMG_0002.heic": heic,
        "shot.webp": webp,
        "loop.gif": gif,
        "late.mp4": make_video(folder / "late.mp4", 5, seconds=0.5, faststart=False),
    }


@pytest.mark.slow  # a 4K encode and its transcode
async def test_a_library_keeps_originals_and_converts_only_when_asked(
    store: Store, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    made = _inputs(tmp_path / "Trip")
    await intake.add_source(store, tmp_path / "Trip", settings=settings)
    await run_until_idle(store, settings)
    job = (await store.list_jobs())[0]
    assert job.state is JobState.DONE
    placed = {p.name: p for p in (settings.library / job.name).rglob("*") if p.is_file()}
    for name in ("clip.mkv", "IMG_0002.heic", "shot.webp", "loop.gif", "late.mp4"):
        assert sha256(placed[name]) == sha256(made[name]), f"{name} changed"
    told = {i["path"]: i for i in (await report.report(store, job.id))["items"]}
    # An MP4 whose index comes last is kept too (issue 79, item 5): a server reads it
    # from its disk; an original is kept byte for byte.
    kept = ("clip.mkv", "IMG_0002.heic", "loop.gif", "late.mp4")
    assert {told[n]["plan"] for n in kept} == {"as_is"}

    converted = await intake.add_source(
        store, made["clip.mkv"], dest="library:?convert=yes", settings=settings, force=True
    )
    await run_until_idle(store, settings)
    done = await report.report(store, converted.id)
    (item,) = done["items"]
    assert item["plan"] == "transcode", item
    assert "scaled:3840x2160->1920x1080" in item["actions"], item
    assert "bit_depth:10->8" in item["actions"], item
    mp4 = next((settings.library / (await store.get_job(converted.id)).name).rglob("*.mp4"))
    with av.open(str(mp4)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.height) == ("h264", 1080)
