"""Every audio language and the text subtitles survive a conversion; picture subtitles
are named in the item's report. Real MKVs made with PyAV."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import pytest
from av.stream import Disposition

from ferryman.engine.ops import intake, report
from ferryman.media.audio import transcode_audio_only
from ferryman.media.mov_text import cue_text
from ferryman.media.plan import explain
from ferryman.media.policy import TELEGRAM
from ferryman.media.probe import probe
from ferryman.media.remux import remux_to_mp4
from ferryman.media.segmented import EncodeSettings, transcode_resumable
from ferryman.media.tracks import dropped_tracks
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.store import Store
from tests.media.test_media_engine import telegram_settings
from tests.media.test_media_probe_plan import FPS, frame_image
from tests.support.engine_helpers import library_files, run_until_idle

SIZE = (160, 120)
SECONDS = 2.0
# (encoder, language, default): the second track is the one a player picks.
AUDIO = [("ac3", "fre", False), ("aac", "eng", True), ("flac", "ger", False)]
CUES = [(0.5, 0.6, b"Hello <i>world</i>"), (1.2, 0.5, b"second line")]
ASS_CUE = b"0,0,Default,,0,0,0,,{\\i1}Bonjour\\Nle monde"


def write_film(
    path: Path,
    *,
    vcodec: str = "libx264",
    audio: list[tuple[str, str, bool]] = AUDIO,
    pictures: str | None = "hdmv_pgs_subtitle",
) -> Path:
    """An MKV as rips come: several audio languages, SRT and ASS subtitles, and
    (unless ``pictures`` is None) a picture subtitle track."""
    with av.open(str(path), "w", format="matroska") as out:
        video = out.add_stream(vcodec, rate=FPS)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        sounds = []
        for codec, language, default in audio:
            sound = out.add_stream(codec, rate=48_000)
            sound.layout = "stereo"
            sound.metadata["language"] = language
            sound.disposition = Disposition.default if default else Disposition(0)
            sounds.append(sound)
        srt = out.add_mux_stream("subrip")
        srt.metadata["language"] = "eng"
        ass = out.add_mux_stream("ass")
        ass.metadata["language"] = "fre"
        image = out.add_mux_stream(pictures) if pictures else None
        if image is not None:
            image.metadata["language"] = "spa"
        for i in range(round(SECONDS * FPS)):
            frame = av.VideoFrame.from_image(frame_image(i, SIZE))
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        for sound in sounds:
            for n in range(0, int(SECONDS * 48_000), 1024):
                chunk = av.AudioFrame(format="s16", layout="stereo", samples=1024)
                chunk.sample_rate, chunk.pts = 48_000, n
                chunk.planes[0].update(bytes(4096))
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
        cues = [(srt, start, length, text) for start, length, text in CUES]
        cues.append((ass, 0.3, 0.8, ASS_CUE))
        if image is not None:
            cues.append((image, 0.4, 0.5, bytes(32)))
        for stream, start, length, text in cues:
            packet = av.Packet(text)
            packet.time_base = Fraction(1, 1000)
            packet.pts, packet.duration = round(start * 1000), round(length * 1000)
            packet.stream = stream
            out.mux(packet)
    return path


def tracks(path: Path) -> list[tuple[str, str, str | None, bool]]:
    """(type, codec, language, default) of every stream of ``path``."""
    with av.open(str(path)) as inp:
        return [
            (
                s.type,
                s.codec_context.codec.canonical_name,
                s.metadata.get("language", "und").replace("und", "") or None,
                bool(s.disposition & Disposition.default),
            )
            for s in inp.streams
        ]


def subtitle_texts(path: Path, index: int) -> list[tuple[float, str]]:
    with av.open(str(path)) as inp:
        stream = inp.streams[index]
        found = []
        for packet in inp.demux(stream):
            if packet.size > 2 and packet.pts is not None:
                text = bytes(packet)[2:].decode()
                found.append((round(float(packet.pts * packet.time_base), 2), text))
        return found


EXPECTED = [
    ("video", "h264", None, True),
    ("audio", "aac", "eng", True),  # the main track first, the only default
    ("audio", "ac3", "fre", False),  # copied
    ("audio", "aac", "ger", False),  # FLAC re-encoded
    ("subtitle", "mov_text", "eng", False),
    ("subtitle", "mov_text", "fre", False),
]


def without_defaults_of_subtitles(
    found: list[tuple[str, str, str | None, bool]],
) -> list[tuple[str, str, str | None, bool]]:
    """MP4 has no 'default' for text: the muxer enables the first text track."""
    return [(t, c, lang, d and t != "subtitle") for t, c, lang, d in found]


def assert_carried(path: Path) -> None:
    assert without_defaults_of_subtitles(tracks(path)) == EXPECTED
    assert subtitle_texts(path, 4) == [(0.5, "Hello world"), (1.2, "second line")]
    assert subtitle_texts(path, 5) == [(0.3, "Bonjour\nle monde")]
    info = probe(path)
    assert info.faststart is True
    assert explain(MediaKind.VIDEO, info, TELEGRAM)[0] is Plan.AS_IS


def test_remux_keeps_every_audio_language_and_the_text_subtitles(tmp_path: Path) -> None:
    src = write_film(tmp_path / "film.mkv", audio=AUDIO[:2])
    dst = tmp_path / "film.mp4"
    remux_to_mp4(src, dst)
    assert without_defaults_of_subtitles(tracks(dst)) == [*EXPECTED[:3], *EXPECTED[4:]]
    assert subtitle_texts(dst, 3) == [(0.5, "Hello world"), (1.2, "second line")]
    assert explain(MediaKind.VIDEO, probe(dst), TELEGRAM)[0] is Plan.AS_IS
    assert dropped_tracks(src) == ["dropped_subtitle:hdmv_pgs_subtitle/spa"]


def test_a_track_a_copy_cannot_carry_makes_it_an_audio_transcode(tmp_path: Path) -> None:
    src = write_film(tmp_path / "film.mkv")
    plan, why = explain(MediaKind.VIDEO, probe(src), TELEGRAM)
    assert plan is Plan.AUDIO
    assert why == "container=matroska,webm, audio_track3=flac"
    dst = tmp_path / "film.mp4"
    transcode_audio_only(src, dst)
    assert_carried(dst)


def test_a_full_transcode_keeps_the_tracks_too(tmp_path: Path) -> None:
    src = write_film(tmp_path / "film.mkv", vcodec="libx265", pictures="dvd_subtitle")
    dst, work = tmp_path / "film.mp4", tmp_path / "parts"
    transcode_resumable(src, dst, work, EncodeSettings(), segment_seconds=1)
    shutil.rmtree(work)
    assert_carried(dst)
    assert dropped_tracks(src) == ["dropped_subtitle:dvd_subtitle/spa"]


@pytest.mark.parametrize(
    ("codec", "data", "text"),
    [
        ("subrip", b"<b>Bold</b> and {\\an8}top", "Bold and top"),
        ("ass", ASS_CUE, "Bonjour\nle monde"),
        ("ass", b"1,0,Default,,0,0,0,,a, b, c", "a, b, c"),
        ("webvtt", b"<c.yellow>Hi</c>\r\nthere", "Hi\nthere"),
    ],
)
def test_cue_text_keeps_the_words(codec: str, data: bytes, text: str) -> None:
    assert cue_text(codec, data) == text


async def test_the_report_names_the_dropped_picture_subtitles(tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path)
    store = await Store.open(settings.database)
    folder = tmp_path / "in"
    folder.mkdir()
    write_film(folder / "remuxed.mkv", audio=AUDIO[:2])
    write_film(folder / "transcoded.mkv", vcodec="libx265")
    job = await intake.add_source(store, folder)
    await run_until_idle(store, settings, limit=150)
    items = {it["path"]: it for it in (await report.report(store, job.id))["items"]}
    for name, plan in (("remuxed.mkv", "remux"), ("transcoded.mkv", "transcode")):
        item = items[name]
        assert item["state"] == ItemState.DELIVERED.value, item
        assert item["plan"] == plan
        assert "dropped_subtitle:hdmv_pgs_subtitle/spa" in item["actions"], item
    delivered = {f["source_path"]: f for f in library_files(settings.library)}
    entry = delivered["transcoded.mkv"]
    assert_carried(Path(entry["album_dir"]) / entry["file"])
    await store.close()


def test_an_audio_track_ffmpeg_cannot_decode_is_left_out_not_fatal(tmp_path: Path) -> None:
    """MPEG-H 3D audio has no decoder in PyAV's FFmpeg: the stream has no codec context.
    The remux keeps what it can read instead of failing the whole file."""
    src = tmp_path / "clip.mp4"
    with av.open(str(src), "w", format="mp4") as out:  # index at the end: a remux
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        sound = out.add_stream("aac", rate=48_000)
        sound.layout = "stereo"
        unknown = out.add_mux_stream("mpegh_3d_audio", rate=48_000)
        out.start_encoding()
        for n in range(0, 48_000, 1024):
            chunk = av.AudioFrame(format="s16", layout="stereo", samples=1024)
            chunk.sample_rate, chunk.pts = 48_000, n
            chunk.planes[0].update(bytes(4096))
            out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))
        packet = av.Packet(bytes(64))
        packet.pts = packet.dts = 0
        packet.time_base = Fraction(1, 1000)
        packet.stream = unknown
        out.mux(packet)
        for i in range(FPS):
            frame = av.VideoFrame.from_image(frame_image(i, SIZE))
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    info = probe(src)
    assert info.audio_tracks == 2 and info.other_audio is None
    assert explain(MediaKind.VIDEO, info, TELEGRAM) == (Plan.REMUX, "faststart=False")
    dst = tmp_path / "out.mp4"
    remux_to_mp4(src, dst)
    assert [t[:2] for t in tracks(dst)] == [("video", "h264"), ("audio", "aac")]
