"""Media through the whole engine: every kind of file a user sends comes out deliverable.

Real files (PyAV, Pillow, pillow-heif) in a real zip; the engine runs in-process with
Telegram's policy, delivering to the library; the checks read the library back and
re-probe what arrived.
"""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pillow_heif
import pytest
from PIL import Image

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake, report
from ferryman.media.plan import explain
from ferryman.media.policy import TELEGRAM
from ferryman.media.probe import probe, probe_image
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.samples import make_zip
from ferryman.store import Store
from tests.media.test_media_probe_plan import (
    AVI_AUDIO,
    frame_image,
    huge_png,
    write_audio,
    write_avi,
    write_image,
    write_video,
)
from tests.support.engine_helpers import leftovers, library_files, run_until_idle

KEYFRAME_EVERY_SECOND = {"g": "25", "keyint_min": "25", "sc_threshold": "0"}


def telegram_settings(tmp_path: Path, send_documents: bool = False, **media: Any) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "send_documents": send_documents,
            "media": {"policy": "telegram", "segment_seconds": 2, **media},
        },
    )


def heic(path: Path) -> Path:
    pillow_heif.from_pillow(frame_image(3, (320, 240))).save(str(path), quality=90)
    return path


def cmyk_jpeg(path: Path) -> Path:
    frame_image(5, (320, 240)).convert("CMYK").save(path, quality=92)
    return path


def sources(root: Path) -> dict[str, Path]:
    """One file for each plan the engine can choose."""
    root.mkdir(parents=True, exist_ok=True)
    panorama = root / "panorama.jpg"
    Image.new("RGB", (12000, 800), (40, 90, 160)).save(panorama, quality=90)
    strip = root / "strip.png"
    Image.new("RGB", (3000, 100), (200, 30, 30)).save(strip)
    return {
        "photo.jpg": write_image(root / "photo.jpg"),
        "rotated.jpg": write_image(root / "rotated.jpg", exif_orientation=6),
        "phone.heic": heic(root / "phone.heic"),
        "print.jpg": cmyk_jpeg(root / "print.jpg"),
        "panorama.jpg": panorama,
        "strip.png": strip,
        "bomb.png": huge_png(root / "bomb.png"),
        "anim.gif": write_image(root / "anim.gif", frames=4),
        "late_index.mp4": write_video(root / "late_index.mp4"),
        "ac3.mkv": write_video(root / "ac3.mkv", acodec="ac3"),
        "hevc.mkv": write_video(
            root / "hevc.mkv",
            vcodec="libx265",
            seconds=5.0,
            video_options={"x265-params": "keyint=25:min-keyint=25:scenecut=0:log-level=error"},
        ),
        "ready.mp4": write_video(root / "ready.mp4", faststart=True),
    }


# name: (plan, kind as delivered, file suffix in the library)
EXPECTED: dict[str, tuple[Plan, MediaKind, str]] = {
    "photo.jpg": (Plan.AS_IS, MediaKind.PHOTO, ".jpg"),
    "rotated.jpg": (Plan.IMAGE, MediaKind.PHOTO, ".jpg"),
    "phone.heic": (Plan.IMAGE, MediaKind.PHOTO, ".jpg"),
    "print.jpg": (Plan.IMAGE, MediaKind.PHOTO, ".jpg"),
    "panorama.jpg": (Plan.IMAGE, MediaKind.PHOTO, ".jpg"),
    "strip.png": (Plan.DOCUMENT, MediaKind.PHOTO, ".png"),
    "bomb.png": (Plan.DOCUMENT, MediaKind.PHOTO, ".png"),
    "anim.gif": (Plan.ANIMATION, MediaKind.ANIMATION, ".mp4"),
    "late_index.mp4": (Plan.REMUX, MediaKind.VIDEO, ".mp4"),
    "ac3.mkv": (Plan.AUDIO, MediaKind.VIDEO, ".mp4"),
    "hevc.mkv": (Plan.TRANSCODE, MediaKind.VIDEO, ".mp4"),
    "ready.mp4": (Plan.AS_IS, MediaKind.VIDEO, ".mp4"),
}


@pytest.fixture
async def telegram_store(tmp_path: Path) -> Store:
    return await Store.open(telegram_settings(tmp_path).database)


@pytest.mark.slow
async def test_every_kind_of_media_arrives_deliverable_under_telegrams_policy(
    tmp_path: Path, telegram_store: Store
) -> None:
    store = telegram_store
    settings = telegram_settings(tmp_path)
    files = sources(tmp_path / "in")
    archive = make_zip(tmp_path / "media.zip", [(name, path) for name, path in files.items()])
    job = await intake.add_source(store, archive)
    await run_until_idle(store, settings, limit=150)

    items = {it.source_path: it for it in await store.job_items(job.id)}
    assert set(items) == set(EXPECTED)
    delivered = {f["source_path"]: f for f in library_files(settings.library)}
    for name, (plan, kind, suffix) in EXPECTED.items():
        item = items[name]
        assert item.state is ItemState.DELIVERED, (name, item.state, item.error_message)
        assert (item.plan, item.kind) == (plan, kind), name
        entry = delivered[name]
        arrived = Path(entry["album_dir"]) / entry["file"]
        assert arrived.suffix == suffix, name
        if kind is MediaKind.PHOTO and plan is not Plan.DOCUMENT:
            info = probe_image(arrived)
            assert explain(MediaKind.PHOTO, info, TELEGRAM)[0] is Plan.AS_IS, name
        if kind in (MediaKind.VIDEO, MediaKind.ANIMATION):
            info = probe(arrived)
            assert explain(MediaKind.VIDEO, info, TELEGRAM)[0] is Plan.AS_IS, name
            assert item.thumb_path is not None, f"{name} has no thumbnail"
        if plan is not Plan.AS_IS and plan is not Plan.DOCUMENT:
            assert item.work_seconds > 0, name
        assert item.source_size == files[name].stat().st_size, name

    # Documents never share an album with photos and videos (Telegram refuses that).
    strip_album = delivered["strip.png"]["album_dir"]
    assert strip_album == delivered["bomb.png"]["album_dir"]
    assert strip_album != delivered["photo.jpg"]["album_dir"]
    # The reason says what made it a bomb: the code and the pixels its header claims.
    bomb_reason = items["bomb.png"].reason or ""
    assert bomb_reason.startswith("media.too_many_pixels: "), bomb_reason
    assert "900000000 pixels" in bomb_reason and "bomb.png" not in bomb_reason
    assert "aspect" in (items["strip.png"].reason or "")

    # Durations survive every video fix within 0.1 s.
    for name in ("late_index.mp4", "ac3.mkv", "hevc.mkv"):
        entry = delivered[name]
        out = probe(Path(entry["album_dir"]) / entry["file"])
        src = probe(files[name])
        assert out.duration is not None and src.duration is not None
        assert abs(out.duration - src.duration) < 0.1, name

    # The upright photo: EXIF orientation 6 means the stored pixels are turned; the
    # delivered file is portrait and carries no orientation to apply.
    rotated = delivered["rotated.jpg"]
    with Image.open(Path(rotated["album_dir"]) / rotated["file"]) as image:
        assert image.height > image.width
        assert image.getexif().get(0x0112) in (None, 1)

    # The report says per item what was done, why, sizes before and after, and time.
    data = await report.report(store, job.id)
    by_path = {entry["path"]: entry for entry in data["items"]}
    hevc = by_path["hevc.mkv"]
    assert hevc["plan"] == "transcode" and "video_codec=hevc" in hevc["reason"]
    assert hevc["size_before"] == files["hevc.mkv"].stat().st_size
    assert hevc["size"] > 0 and hevc["seconds"] > 0
    assert by_path["ac3.mkv"]["reason"] == "audio_codec=ac3, container=matroska,webm"
    # The transcode went by parts: audio once (-1), then each video segment once.
    history = await store.part_history(items["hevc.mkv"].id)
    assert -1 in history and {0, 1} <= set(history)
    assert set(history.values()) == {1}
    assert leftovers(settings.work_dir) == []
    await store.close()


@pytest.mark.slow
async def test_avi_rips_with_ac3_vbr_mp3_and_pcm_arrive_as_h264_aac_of_the_same_length(
    tmp_path: Path, telegram_store: Store
) -> None:
    # AC-3 and MP3 in AVI are timed per codec frame; the AAC encoder once stamped its
    # 1024-sample pieces from that and the muxer refused them (EINVAL), quarantining it.
    store = telegram_store
    settings = telegram_settings(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    files = {f"{audio}.avi": write_avi(folder / f"{audio}.avi", audio=audio) for audio in AVI_AUDIO}
    job = await intake.add_source(store, folder)
    await run_until_idle(store, settings, limit=150)

    items = {it.source_path: it for it in await store.job_items(job.id)}
    delivered = {f["source_path"]: f for f in library_files(settings.library)}
    for name, source in files.items():
        item = items[name]
        assert item.state is ItemState.DELIVERED, (name, item.state, item.error_message)
        assert item.plan is Plan.TRANSCODE, name
        entry = delivered[name]
        info = probe(Path(entry["album_dir"]) / entry["file"])
        assert (info.video_codec, info.audio_codec) == ("h264", "aac"), name
        assert explain(MediaKind.VIDEO, info, TELEGRAM)[0] is Plan.AS_IS, name
        before = probe(source).duration
        assert info.duration is not None and before is not None
        assert abs(info.duration - before) < 0.1, (name, info.duration, before)
    assert leftovers(settings.work_dir) == []
    await store.close()


@pytest.mark.parametrize("oversize", ["split", "scale"])  # too short a limit to scale into
async def test_a_video_over_the_size_limit_arrives_in_playable_parts(
    tmp_path: Path, telegram_store: Store, oversize: str
) -> None:
    store = telegram_store
    source = write_video(
        tmp_path / "long.mp4",
        size=(320, 240),
        seconds=6.0,
        faststart=True,
        video_options=KEYFRAME_EVERY_SECOND,
    )
    limit = int(source.stat().st_size * 0.45)
    settings = telegram_settings(tmp_path, max_file_bytes=limit, oversize=oversize)
    job = await intake.add_source(store, source)
    await run_until_idle(store, settings, limit=120)

    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.DELIVERED and item.plan is Plan.SPLIT
    (entry,) = library_files(settings.library)
    parts = [Path(entry["album_dir"]) / name for name in entry["parts"]]
    assert len(parts) >= 3
    total = 0.0
    for part in parts:
        assert part.stat().st_size <= limit
        info = probe(part)
        assert explain(MediaKind.VIDEO, info, TELEGRAM)[0] is Plan.AS_IS
        assert info.duration is not None
        total += info.duration
    assert abs(total - 6.0) < 0.1
    with av.open(str(parts[0])) as first:
        assert next(first.demux(first.streams.video[0])).is_keyframe
    await store.close()


def noisy_video(
    path: Path, seconds: float = 4.0, size: tuple[int, int] = (320, 240), preset: str = "medium"
) -> Path:
    """Random pixels: a bitrate no encoder can squeeze, so a size cap must do the work.
    ``preset``: x264's (its default, medium; ultrafast a tenth of the CPU for a test that
    needs only a big video, not the encoder's best squeeze of it)."""
    rng = random.Random(7)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        options = {"crf": "18", "g": "25", "preset": preset}
        stream = out.add_stream("libx264", rate=25, options=options)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(round(seconds * 25)):
            image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = index, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.slow
async def test_oversize_scale_re_encodes_under_the_limit_instead_of_splitting(
    tmp_path: Path, telegram_store: Store
) -> None:
    store = telegram_store
    source = noisy_video(tmp_path / "noise.mp4")
    limit = int(source.stat().st_size * 0.3)
    settings = telegram_settings(tmp_path, max_file_bytes=limit, oversize="scale")
    job = await intake.add_source(store, source)
    await run_until_idle(store, settings, limit=120)

    (item,) = await store.job_items(job.id)
    assert item.state is ItemState.DELIVERED and item.plan is Plan.TRANSCODE
    assert item.reason == f"size={source.stat().st_size}>{limit}"
    assert item.parts == []  # shrunk, not split
    (entry,) = library_files(settings.library)
    arrived = Path(entry["album_dir"]) / entry["file"]
    assert arrived.stat().st_size <= limit
    info = probe(arrived)
    assert explain(MediaKind.VIDEO, info, TELEGRAM)[0] is Plan.AS_IS
    assert info.duration is not None and abs(info.duration - 4.0) < 0.1
    await store.close()


async def test_a_smaller_upload_cap_binds_photos_and_quarantines_big_audio(
    tmp_path: Path, telegram_store: Store
) -> None:
    store = telegram_store
    photo = tmp_path / "big.png"
    rng = random.Random(3)
    Image.frombytes("RGB", (400, 300), rng.randbytes(400 * 300 * 3)).save(photo)
    tone = tmp_path / "tone.wav"
    write_audio(tone, fmt="wav", codec="pcm_s16le", seconds=2.0)
    limit = 100_000  # the PNG (~360 KB) and the WAV (~384 KB) are both over it
    settings = telegram_settings(tmp_path, max_file_bytes=limit, send_documents=True)
    folder = tmp_path / "in"
    folder.mkdir()
    for path in (photo, tone):
        path.rename(folder / path.name)
    job = await intake.add_source(store, folder)
    await run_until_idle(store, settings, limit=120)

    items = {it.source_path: it for it in await store.job_items(job.id)}
    fitted = items["big.png"]
    assert fitted.state is ItemState.DELIVERED and fitted.plan is Plan.IMAGE
    assert fitted.size <= limit and fitted.reason == f"size={fitted.source_size}>{limit}"
    audio = items["tone.wav"]
    assert audio.state is ItemState.QUARANTINED and audio.error_code == "media.over_limit"
    await store.close()
