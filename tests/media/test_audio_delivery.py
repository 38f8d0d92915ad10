"""Audio is media: songs (MP3, M4A, AAC, FLAC, Opus, WAV) go out as they are, local, in
an archive or as a direct link; to Telegram as songs with their tags and cover.

Every song is made here by PyAV (a second of a tone), with the tags and the embedded
cover a music program writes.
"""

from __future__ import annotations

import array
import asyncio
import hashlib
import math
from fractions import Fraction
from pathlib import Path

import av
import pytest
from av.stream import Disposition
from PIL import Image
from telethon.tl import types

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.read.prepare import MediaOptions, prepare
from ferryman.engine.read.stage import Staged
from ferryman.engine.runner import Engine
from ferryman.media.classify import classify
from ferryman.media.policy import LIBRARY, TELEGRAM
from ferryman.model import ItemState, JobState, MediaKind, Plan
from ferryman.samples import make_zip
from ferryman.store import Store
from tests.support.engine_helpers import leftovers, library_files
from tests.support.httpserve import FaultServer, serving
from tests.support.telegram_helpers import media_kind
from tests.telegram.test_telegram_sink import World

TITLE, ARTIST = "Night Song", "The Band"


def write_song(
    path: Path, fmt: str, codec: str, *, cover: bool = False, seconds: float = 1.0
) -> Path:
    """A song as a music program leaves it: a tone, title and artist tags, and with
    ``cover`` an embedded 600 px picture (an attached picture stream)."""
    rate = 44_100 if codec == "libmp3lame" else 48_000
    with av.open(str(path), "w", format=fmt) as out:
        out.metadata.update(title=TITLE, artist=ARTIST)
        sound = out.add_stream(codec, rate=rate)
        assert isinstance(sound, av.audio.stream.AudioStream)
        sound.layout = "stereo"
        if fmt == "ogg":  # Vorbis comments belong to the stream
            sound.metadata.update(title=TITLE, artist=ARTIST)
        if cover:
            _add_cover(out, "png" if fmt == "flac" else "mjpeg")
        frame_size = sound.codec_context.frame_size or 1024
        total, pts = round(seconds * rate), 0
        while pts < total:
            count = min(frame_size, total - pts)
            wave = array.array(
                "f", (0.2 * math.sin(2 * math.pi * 440 * (pts + k) / rate) for k in range(count))
            )
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=count)
            for plane in frame.planes:
                plane.update(wave.tobytes())
            frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
            out.mux(sound.encode(frame))
            pts += count
        out.mux(sound.encode(None))
    return path


def _add_cover(out: av.container.OutputContainer, codec: str) -> None:
    picture = out.add_stream(codec, rate=1)
    assert isinstance(picture, av.video.stream.VideoStream)
    picture.width = picture.height = 600
    picture.pix_fmt = "rgb24" if codec == "png" else "yuvj420p"
    picture.disposition = Disposition.attached_pic
    image = Image.new("RGB", (600, 600), (200, 40, 40))
    frame = av.VideoFrame.from_image(image).reformat(format=picture.pix_fmt)
    out.mux(picture.encode(frame))
    out.mux(picture.encode(None))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


SONGS = [  # name, muxer, codec
    ("song.mp3", "mp3", "libmp3lame"),
    ("song.m4a", "ipod", "aac"),
    ("song.aac", "adts", "aac"),
    ("song.flac", "flac", "flac"),
    ("song.opus", "ogg", "libopus"),
    ("song.wav", "wav", "pcm_s16le"),
]


@pytest.mark.parametrize(("name", "fmt", "codec"), SONGS)
def test_every_common_song_format_is_prepared_as_audio_as_it_is(
    tmp_path: Path, name: str, fmt: str, codec: str
) -> None:
    """Before, every one of these was skipped as ``not_media``."""
    path = write_song(tmp_path / name, fmt, codec)
    kind = classify(path.read_bytes()[:4096], name)
    staged = Staged(path, path.stat().st_size, sha(path), kind)
    prepared = prepare(staged, False, MediaOptions(LIBRARY))
    assert (prepared.kind, prepared.state, prepared.plan) == (
        MediaKind.AUDIO,
        ItemState.READY,
        Plan.AS_IS,
    ), prepared.reason
    assert prepared.work_path == path  # unchanged
    assert prepared.media is not None and prepared.media.duration is not None
    assert abs(prepared.media.duration - 1.0) < 0.1
    if fmt != "adts":  # a bare AAC stream has no tags
        assert (prepared.media.title, prepared.media.performer) == (TITLE, ARTIST)


def test_sound_alone_in_an_mp4_named_as_a_video_is_a_song(tmp_path: Path) -> None:
    """An M4A saved as ``.mp4`` (moov last: its head shows no handler) was a video
    without a picture, sent as a document; it is a song."""
    path = write_song(tmp_path / "voice.mp4", "mp4", "aac")
    kind = classify(path.read_bytes()[:4096], path.name)
    staged = Staged(path, path.stat().st_size, sha(path), kind)
    prepared = prepare(staged, False, MediaOptions(TELEGRAM))
    assert (prepared.kind, prepared.plan) == (MediaKind.AUDIO, Plan.AS_IS), prepared.reason


@pytest.mark.parametrize(
    ("name", "fmt", "codec"), [("song.mp3", "mp3", "libmp3lame"), ("song.flac", "flac", "flac")]
)
def test_a_songs_embedded_cover_becomes_its_thumbnail(
    tmp_path: Path, name: str, fmt: str, codec: str
) -> None:
    """ID3's APIC (a JPEG) and FLAC's picture block (a PNG): a 600 px cover, fitted."""
    path = write_song(tmp_path / name, fmt, codec, cover=True)
    staged = Staged(path, path.stat().st_size, sha(path), MediaKind.AUDIO)
    prepared = prepare(staged, False, MediaOptions(TELEGRAM))
    assert prepared.thumb_path is not None
    with Image.open(prepared.thumb_path) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= TELEGRAM.thumb.max_side
    assert prepared.thumb_path.stat().st_size <= TELEGRAM.thumb.max_bytes
    assert "cover" in prepared.actions


def test_other_documents_stay_skipped_unless_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just words\n")
    staged = Staged(path, path.stat().st_size, sha(path), MediaKind.DOCUMENT)
    assert prepare(staged, False, MediaOptions(LIBRARY)).state is ItemState.SKIPPED
    asked = prepare(staged, True, MediaOptions(LIBRARY))
    assert (asked.state, asked.plan) == (ItemState.READY, Plan.DOCUMENT)


async def _run(store: Store, settings: Settings) -> None:
    await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 120)


@pytest.mark.parametrize("dest", ["library:", "link:"])
async def test_an_mp3_and_a_flac_in_a_zip_arrive_as_they_are(
    tmp_path: Path, settings: Settings, dest: str
) -> None:
    songs = [
        write_song(tmp_path / "a.mp3", "mp3", "libmp3lame", cover=True),
        write_song(tmp_path / "b.flac", "flac", "flac", cover=True),
    ]
    archive = make_zip(tmp_path / "album.zip", [(p.name, p) for p in songs])
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, archive, dest=dest)
        await _run(store, settings)
        done = await store.get_job(job.id)
        items = await store.job_items(job.id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.DONE, None), done.error_message
    assert {(it.kind, it.state) for it in items} == {(MediaKind.AUDIO, ItemState.DELIVERED)}
    if dest == "library:":
        files = library_files(settings.library)
        delivered = {Path(e["source_path"]).name: e["disk_sha256"] for e in files}
    else:
        found = settings.results_dir.rglob("*")
        delivered = {p.name: sha(p) for p in found if p.suffix in (".mp3", ".flac")}
    assert delivered == {p.name: sha(p) for p in songs}  # byte for byte
    assert leftovers(settings.work_dir) == []  # the covers made went with their songs


async def test_a_direct_link_to_a_song_is_delivered(tmp_path: Path, settings: Settings) -> None:
    """The report's case: ``…/song.mp3`` ended ``source.nothing_delivered``."""
    song = write_song(tmp_path / "song.mp3", "mp3", "libmp3lame")
    with serving() as server:
        _serve(server, "/music/song.mp3", song, "audio/mpeg")
        store = await Store.open(settings.database)
        try:
            job = await intake.add_source(store, server.url("/music/song.mp3"))
            await _run(store, settings)
            done = await store.get_job(job.id)
        finally:
            await store.close()
    assert (done.state, done.error_code) == (JobState.DONE, None), done.error_message
    files = library_files(settings.library)
    assert [e["disk_sha256"] for e in files] == [sha(song)]


def _serve(server: FaultServer, path: str, file: Path, content_type: str) -> None:
    server.add(path, file.read_bytes(), content_type=content_type)


async def test_songs_reach_telegram_as_songs_with_tags_length_and_cover(tmp_path: Path) -> None:
    w = await World.logged_in(tmp_path)
    (tmp_path / "in").mkdir()
    mp3 = write_song(tmp_path / "in" / "a.mp3", "mp3", "libmp3lame", cover=True, seconds=3.0)
    wav = write_song(tmp_path / "in" / "b.wav", "wav", "pcm_s16le", seconds=2.0)
    archive = make_zip(tmp_path / "songs.zip", [(mp3.name, mp3), (wav.name, wav)])
    store = await w.store()
    try:
        job = await intake.add_source(store, archive, dest="telegram:@dest")
        await w.run(store)
        items = await store.job_items(job.id)
    finally:
        await store.close()
    assert {it.state for it in items} == {ItemState.DELIVERED}, [
        (it.source_path, it.state, it.reason) for it in items
    ]
    chat = w.server.chat(w.channel)
    assert [media_kind(m) for m in chat] == ["audio", "audio"]
    by_name = {_file_name(m): m for m in chat}
    for name, seconds, cover in (("a.mp3", 3, True), ("b.wav", 2, False)):
        message = by_name[name]
        audio = next(
            a for a in message.media.attributes if isinstance(a, types.DocumentAttributeAudio)
        )
        assert (audio.title, audio.performer, audio.duration) == (TITLE, ARTIST, seconds)
        assert not audio.voice
        assert message.media.mime_type.startswith("audio/")
        assert (message.media.thumb is not None) is cover, name
    assert by_name["a.mp3"].media.file.sha256 == sha(mp3)  # as it is


def _file_name(message: object) -> str:
    attrs = message.media.attributes  # type: ignore[attr-defined]
    return next(a.file_name for a in attrs if isinstance(a, types.DocumentAttributeFilename))
