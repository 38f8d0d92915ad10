"""Links to media through the whole engine, offline: a local server serves a direct MP4,
pages with ``<video src>`` and ``og:video``, an HLS master (1080p/720p/360p video-only
variants with a separate audio rendition), a page with nothing, a 404 and a 403 (see
``tests/support/mediaserve.py``). yt-dlp really extracts them; PyAV makes the files; the library
receives them."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from ferryman.config import Settings
from ferryman.engine.ops import intake, report
from ferryman.engine.plumbing.events import Event, JobFetching
from ferryman.engine.runner import Engine
from ferryman.links.profile import Output, Profile
from ferryman.model import JobState
from ferryman.store import Store
from tests.support.httpserve import FaultServer, Link, serving
from tests.support.mediaserve import SECONDS, MediaSite
from tests.support.once import built_once

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> MediaSite:
    return built_once(tmp_path_factory, "media-site", MediaSite.make)  # one per run


@pytest.fixture
def server(site: MediaSite) -> Iterator[FaultServer]:
    with serving() as started:
        yield site.serve(started)


@pytest.fixture
def link_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"retry": settings.retry.model_copy(update={"base_seconds": 0.05})}
    )


async def _deliver(
    settings: Settings,
    url: str,
    profile: Profile | None,
    events: list[Event] | None = None,
    dest: str = "library:",
) -> tuple[int, JobState, str | None, list[Path]]:
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, url, profile=profile, dest=dest)
        engine = Engine(store, settings)
        if events is not None:
            engine.bus.subscribe(events.append)
        await asyncio.wait_for(engine.run(until_idle=True), 180)
        done = await store.get_job(job.id)
        made = (await report.report(store, job.id))["fetched_as"]
    finally:
        await store.close()
    files = _made(settings.library)
    return job.id, done.state, done.error_code or made, files


def _made(library: Path) -> list[Path]:
    """The delivered files (not the albums' manifests, nor the hidden `.ferryman` folder
    where the default layout keeps them)."""
    return sorted(
        p
        for p in library.rglob("*")
        if p.is_file()
        and p.name != "manifest.json"
        and ".ferryman" not in p.relative_to(library).parts
    )


def _moov_first(path: Path) -> bool:
    """The MP4's index (moov) comes before its media data (mdat)."""
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


def _streams(path: Path) -> tuple[float, tuple[int, int] | None, str | None, int | None]:
    with av.open(str(path)) as media:
        video = media.streams.video[0] if media.streams.video else None
        audio = media.streams.audio[0] if media.streams.audio else None
        size = (video.codec_context.width, video.codec_context.height) if video else None
        rate = audio.codec_context.bit_rate if audio else None
        return (
            media.duration / av.time_base,
            size,
            audio.codec_context.name if audio else None,
            rate,
        )


@pytest.mark.parametrize(("kbps", "encoder"), [(128, "auto"), (192, "auto"), (192, "off")])
async def test_hls_with_separate_audio_becomes_an_mp3_at_the_asked_bitrate(
    link_settings: Settings, server: FaultServer, kbps: int, encoder: str
) -> None:
    """auto: an ffmpeg binary where one is found (imageio-ffmpeg's here); off: PyAV."""
    settings = link_settings.model_copy(
        update={"links": link_settings.links.model_copy(update={"ffmpeg": encoder})}
    )
    _, state, made, files = await _deliver(
        settings, server.url("/hls/master.m3u8"), Profile(Output.MP3, None, kbps)
    )
    assert state is JobState.DONE, made
    (mp3,) = files
    assert mp3.suffix == ".mp3"
    duration, size, codec, _ = _streams(mp3)
    assert size is None and codec is not None and codec.startswith("mp3")
    assert abs(duration - SECONDS) <= 1.0
    measured = mp3.stat().st_size * 8 / duration / 1000
    assert abs(measured - kbps) <= 0.1 * kbps, measured
    assert made is not None and f"MP3 {kbps} kbps" in made


@pytest.mark.parametrize("joiner", ["auto", "off"])
async def test_720p_takes_the_best_variant_that_fits_and_merges_its_sound(
    link_settings: Settings, server: FaultServer, joiner: str
) -> None:
    """Joined by an ffmpeg binary (auto, imageio-ffmpeg's here) or by PyAV (off)."""
    settings = link_settings.model_copy(
        update={"links": link_settings.links.model_copy(update={"ffmpeg": joiner})}
    )
    _, state, made, files = await _deliver(
        settings, server.url("/hls/master.m3u8"), Profile(Output.VIDEO, 720)
    )
    assert state is JobState.DONE, made
    (mp4,) = files
    duration, size, codec, _ = _streams(mp4)
    assert size == (1280, 720)  # not 360p: the best that fits
    assert codec == "aac"  # the separate audio rendition, merged
    assert abs(duration - SECONDS) <= 1.0
    assert made == "asked 720p; delivered 720p"
    with av.open(str(mp4)) as media:
        assert media.metadata.get("title")  # the page's title, tagged by either joiner
        starts = [float((s.start_time or 0) * s.time_base) for s in media.streams]
        assert all(abs(start) < 0.1 for start in starts), starts  # both begin at zero
        assert _moov_first(mp4)  # plays while it loads
    # Staged by a hard link with the hash its maker computed: the manifest's is the file's.
    from tests.support.engine_helpers import library_files

    (entry,) = library_files(link_settings.library)
    assert entry["sha256"] == entry["disk_sha256"]


async def test_mute_has_no_sound_and_best_takes_the_largest(
    link_settings: Settings, server: FaultServer
) -> None:
    _, state, _, files = await _deliver(
        link_settings, server.url("/hls/master.m3u8"), Profile(Output.MUTE, 360)
    )
    assert state is JobState.DONE
    (mute,) = files
    _, size, codec, _ = _streams(mute)
    assert size == (640, 360) and codec is None


async def test_the_default_is_1080p_when_the_source_has_it(
    link_settings: Settings, server: FaultServer
) -> None:
    _, state, made, files = await _deliver(link_settings, server.url("/muxed/master.m3u8"), None)
    assert state is JobState.DONE, made
    (mp4,) = files
    _, size, codec, _ = _streams(mp4)
    assert size == (1920, 1080) and codec == "aac"


@pytest.mark.parametrize(
    ("path", "title"),
    [("/video-tag.html", "A walk by the sea"), ("/og.html", "Harbour at dusk")],
)
async def test_pages_with_a_video_are_converted_and_named_from_their_title(
    link_settings: Settings, server: FaultServer, path: str, title: str
) -> None:
    _, state, made, files = await _deliver(link_settings, server.url(path), None)
    assert state is JobState.DONE, made
    (mp4,) = files
    assert mp4.name.startswith(title) and mp4.suffix == ".mp4"
    duration, size, _, _ = _streams(mp4)
    assert size == (640, 360) and abs(duration - SECONDS) <= 1.0
    with av.open(str(mp4)) as media:
        assert media.metadata.get("title", "").startswith(title)
    assert made == "asked 1080p; delivered 360p"


async def test_a_direct_mp4_asked_as_m4a_keeps_its_aac(
    link_settings: Settings, server: FaultServer
) -> None:
    _, state, _, files = await _deliver(
        link_settings, server.url("/clip.mp4"), Profile(Output.M4A, None)
    )
    assert state is JobState.DONE
    (m4a,) = files
    duration, size, codec, _ = _streams(m4a)
    assert m4a.suffix == ".m4a" and size is None and codec == "aac"
    assert abs(duration - SECONDS) <= 1.0


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/nothing.html", "link.no_media"),
        ("/gone.mp4", "content.unavailable"),
        ("/secret.mp4", "content.login_required"),
    ],
)
async def test_failures_end_the_job_with_a_code_a_person_understands(
    link_settings: Settings, server: FaultServer, path: str, code: str
) -> None:
    _, state, error, files = await _deliver(
        link_settings, server.url(path), Profile(Output.MP3, None, 192)
    )
    assert (state, error) == (JobState.FAILED, code)
    assert files == []


@pytest.mark.parametrize(
    "profile",
    [Profile(Output.VIDEO, 720), Profile(Output.MP3, None, 128)],
    ids=["mp4-720", "mp3-encoded-as-it-arrives"],
)
async def test_progress_rises_from_above_zero_to_one_on_a_slow_stream(
    site: MediaSite, link_settings: Settings, profile: Profile
) -> None:
    """The MP3 is encoded by an ffmpeg binary reading the download as it grows."""
    events: list[Event] = []
    with serving(Link(bandwidth=400_000 if profile.output is Output.VIDEO else 60_000)) as slow:
        site.serve(slow)
        _, state, _, files = await _deliver(
            link_settings, slow.url("/hls/master.m3u8"), profile, events
        )
    assert state is JobState.DONE
    (made,) = files
    duration, _, codec, _ = _streams(made)
    assert abs(duration - SECONDS) <= 1.0 and codec is not None
    values = [float(e.fraction) for e in events if isinstance(e, JobFetching) and e.fraction]
    assert values and values[-1] == pytest.approx(1.0)
    assert all(b > a for a, b in itertools.pairwise(values)), values
    assert len(set(values)) >= 5 and values[0] > 0
    assert any(e.eta is not None for e in events if isinstance(e, JobFetching))


async def test_making_the_file_is_its_own_phase_after_the_download(
    site: MediaSite, link_settings: Settings
) -> None:
    """A link's file made from its download (an MP4's sound kept as M4A) says
    ``converting`` once the download is in, with its own figures: the download's
    bytes-per-second speed is not carried into it (the issue's "86 % · 9.2 MB/s · 0 s
    left" while converting), and it never says ``downloading`` again."""
    events: list[Event] = []
    with serving(Link(bandwidth=300_000)) as slow:
        site.serve(slow)
        _, state, _, _ = await _deliver(
            link_settings, slow.url("/clip.mp4"), Profile(Output.M4A, None), events
        )
    assert state is JobState.DONE
    fetching = [e for e in events if isinstance(e, JobFetching)]
    phases = [e.phase for e in fetching]
    assert "downloading" in phases and "converting" in phases, phases
    first = phases.index("converting")
    assert set(phases[first:]) == {"converting"}, phases
    downloaded = [e.speed for e in fetching[:first] if e.speed > 0]
    assert downloaded, "the download reported no speed"
    made = fetching[first:]
    assert all(e.speed not in downloaded for e in made if e.speed > 0)
    shares = [e.fraction or 0.0 for e in made]
    assert shares == sorted(shares) and shares[-1] == pytest.approx(1.0)


async def test_a_cache_hit_does_not_touch_the_server_and_force_does(
    link_settings: Settings, server: FaultServer
) -> None:
    url = server.url("/hls/master.m3u8")
    mp3 = Profile(Output.MP3, None, 128)
    first = await _deliver(link_settings, url, mp3)
    assert first[1] is JobState.DONE
    before = len(server.requests)
    other = link_settings.library / "elsewhere"
    second = await _deliver(link_settings, url, mp3, dest=f"library:{other}")
    assert second[1] is JobState.DONE
    assert len(server.requests) == before  # not one request: the cache answered
    assert second[2] is not None and "from the cache" in second[2]
    assert [p.suffix for p in _made(other)] == [".mp3"]
    # Another profile is another key: an MP4 is not served from the MP3's entry.
    video = await _deliver(
        link_settings, url, Profile(Output.VIDEO, 360), dest=f"library:{other}/v"
    )
    assert video[1] is JobState.DONE and len(server.requests) > before


def test_sigkill_during_an_hls_download_fetches_again_at_most_the_fragment_in_flight(
    tmp_path: Path, site: MediaSite
) -> None:
    """`ferryman run` is killed (SIGKILL; its yt-dlp child dies with it) once two video
    fragments have arrived; the next run resumes from yt-dlp's fragment record."""
    import signal
    import sqlite3

    from tests.crash.test_crash import _cli, _env
    from tests.support.waiting import eventually_sync

    # The default lease (30 s): the killed run's is handed back at the next start (the data
    # dir's lock shows it dead), and a 1 s one lapsed under load mid-download ("lost the
    # lease on fetch 1", in the first run and the final one): each lapse restarts the
    # yt-dlp child, whose fragment in flight is fetched again beside the kill's.
    env = _env(tmp_path / "data")
    with serving(Link(bandwidth=150_000)) as slow:
        site.serve(slow)
        added = _cli("add", slow.url("/hls/master.m3u8"), "--quality", "720p", env=env)
        assert added.wait(60) == 0, added.stderr.read() if added.stderr else ""
        fragments = sorted(p for p in slow.resources if p.endswith(".ts"))
        video = [p for p in fragments if p.startswith("/hls/v720/")]

        def whole(path: str) -> bool:
            return slow.served[path] >= len(slow.resources[path].data)

        run = _cli("run", "--until-idle", env=env)
        eventually_sync(lambda: sum(map(whole, video)) >= 2, "two fragments fetched", within=90)
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        assert not all(map(whole, video))  # killed mid-download
        final = _cli("run", "--until-idle", env=env)
        assert final.wait(300) == 0, final.stderr.read() if final.stderr else ""
        again = [p for p in fragments if slow.served[p] > len(slow.resources[p].data)]
        over = {
            p: slow.served[p] for p in fragments if slow.served[p] > 2 * len(slow.resources[p].data)
        }
    assert len(again) <= 1, again  # only the fragment in flight went twice
    assert over == {}
    assert all(slow.served[p] == 0 for p in fragments if "/v1080/" in p or "/v360/" in p)
    with sqlite3.connect(tmp_path / "data" / "ferryman.db") as db:
        assert db.execute("SELECT state FROM jobs").fetchall() == [("done",)]
    made = _made(tmp_path / "data" / "library")
    assert [p.suffix for p in made] == [".mp4"]
    duration, size, codec, _ = _streams(made[0])
    assert size == (1280, 720) and codec == "aac" and abs(duration - SECONDS) <= 1.0


async def test_a_page_of_several_videos_gives_one_unless_the_playlist_is_asked(
    link_settings: Settings, server: FaultServer
) -> None:
    url = server.url("/two.html")
    _, state, _, files = await _deliver(link_settings, url, Profile(Output.VIDEO, 1080))
    assert state is JobState.DONE and len(files) == 1
    other = link_settings.library / "all"
    whole = Profile(Output.VIDEO, 1080, playlist=True)
    _, state, _, _ = await _deliver(link_settings, url, whole, dest=f"library:{other}")
    assert state is JobState.DONE
    sizes = sorted(_streams(p)[1] or (0, 0) for p in _made(other))
    assert sizes == [(320, 180), (640, 360)]
    capped = link_settings.model_copy(
        update={"links": link_settings.links.model_copy(update={"playlist_max": 1})}
    )
    few = link_settings.library / "few"
    mp3s = Profile(Output.MP3, None, 96, playlist=True)
    _, state, _, _ = await _deliver(capped, url, mp3s, dest=f"library:{few}")
    assert state is JobState.DONE and len(_made(few)) == 1


@pytest.mark.parametrize(
    ("vcodec", "acodec", "size"),
    [
        ("libx264", "libopus", (640, 360)),
        ("mpeg4", "aac", (1280, 720)),
        ("hevc", "aac", (640, 360)),
    ],
    ids=["h264-opus-sound-re-encoded", "mpeg4-too-large-transcoded", "hevc-b-frames-transcoded"],
)
async def test_a_source_that_does_not_play_everywhere_is_made_into_h264_aac(
    tmp_path: Path, link_settings: Settings, vcodec: str, acodec: str, size: tuple[int, int]
) -> None:
    """Opus sound beside H.264 (YouTube's usual pair): only the sound is re-encoded;
    MPEG-4 Part 2 above the height asked, or HEVC with B-frames: the segmented
    transcoder, scaled. Either way an MP4 of H.264 and AAC, as long as the source, with
    its title in the tags, and every picture and sound frame of the source in it (the
    join into Matroska once dropped packets of a file's own sound and picture: an HEVC
    link was a 0.0 s file)."""
    from tests.support.mediaserve import write_media

    clip = write_media(
        tmp_path / "odd.mkv", size=size, audio=True, seconds=3.0, vcodec=vcodec, acodec=acodec
    )
    with serving() as web:
        web.add("/odd.mkv", clip.read_bytes(), content_type="video/x-matroska")
        _, state, made, files = await _deliver(
            link_settings, web.url("/odd.mkv"), Profile(Output.VIDEO, 360)
        )
    assert state is JobState.DONE, made
    (mp4,) = files
    duration, got, codec, _ = _streams(mp4)
    assert got == (640, 360) and codec == "aac" and abs(duration - 3.0) <= 1.0
    with av.open(str(mp4)) as media:
        assert media.streams.video[0].codec_context.name == "h264"
        assert media.metadata.get("title") == "odd"
    assert _frames(mp4) == _frames(clip)
    assert abs(_seconds_of_sound(mp4) - _seconds_of_sound(clip)) <= 0.05


async def test_a_links_transcode_is_made_as_the_engines_own_and_holds_as_few_frames(
    tmp_path: Path, link_settings: Settings
) -> None:
    """convert.threads and convert.lookahead (2 and 5 on a phone), crf and preset reach
    a link's transcode as they reach the engine's: x264 writes the options it ran with
    into the stream. A link's transcode once ran at FFmpeg's count by the cores, the
    preset's lookahead and its thread's queue (~250 MiB at 720p on an 8-core phone), and
    at crf 23 veryfast whatever the user had chosen."""
    from tests.support.mediaserve import write_media

    chosen = {"threads": 2, "lookahead": 5, "crf": 30, "preset": "faster"}
    settings = link_settings.model_copy(
        update={"convert": link_settings.convert.model_copy(update=chosen)}
    )
    clip = write_media(
        tmp_path / "odd.mkv", size=(1280, 720), audio=True, seconds=2.0, vcodec="mpeg4"
    )
    with serving() as web:
        web.add("/odd.mkv", clip.read_bytes(), content_type="video/x-matroska")
        _, state, made, files = await _deliver(
            settings, web.url("/odd.mkv"), Profile(Output.VIDEO, 360)
        )
    assert state is JobState.DONE, made
    (mp4,) = files
    options = _x264_options(mp4)  # (sync-lookahead, not written there, rides with it)
    assert (options["threads"], options["rc_lookahead"]) == ("2", "5")
    # crf as x264 prints it; faster searches at subme 4 (veryfast, the default, at 2)
    assert (options["crf"], options["subme"]) == ("30.0", "4")


def _x264_options(path: Path) -> dict[str, str]:
    """The options x264 wrote into the stream it made (its SEI: ``options: a=1 b=2``)."""
    data = path.read_bytes()
    start = data.index(b"options: ") + len(b"options: ")
    text = data[start : data.index(b"\x00", start)].decode("ascii")
    return dict(word.split("=", 1) for word in text.split() if "=" in word)


def _frames(path: Path) -> int:
    """How many pictures decode from the file's video."""
    with av.open(str(path)) as media:
        return sum(1 for _ in media.decode(video=0))


def _seconds_of_sound(path: Path) -> float:
    """The decoded sound's length in seconds (samples over the rate)."""
    with av.open(str(path)) as media:
        frames = list(media.decode(audio=0))
    return sum(f.samples for f in frames) / frames[0].sample_rate


async def test_a_page_pointing_inside_a_private_network_is_refused_at_connect_time(
    link_settings: Settings, server: FaultServer, site: MediaSite
) -> None:
    """yt-dlp makes its own connections: with network.block_private each one is checked
    as it is made. 127.0.0.1 stands for a public site (network.private_allowed), 127.0.0.2
    for a machine inside: the page is read, the video it points to is never asked for."""
    settings = link_settings.model_copy(
        update={
            "network": link_settings.network.model_copy(
                update={"block_private": True, "private_allowed": ["127.0.0.1"]}
            )
        }
    )
    with serving(host="127.0.0.2") as inside:
        site.serve(inside)
        page = (
            "<!doctype html><html><head><title>Inward</title></head><body>"
            f'<video src="{inside.url("/clip.mp4")}"></video></body></html>'
        )
        server.add("/inward.html", page.encode(), content_type="text/html")
        _, state, error, files = await _deliver(settings, server.url("/inward.html"), None)
        assert (state, error, files) == (JobState.FAILED, "link.blocked", [])
        assert inside.served.get("/clip.mp4", 0) == 0
        assert server.served["/inward.html"] >= 1  # the allowed page itself was read


def _grab_in_process(url: str, profile: Profile, folder: Path) -> list[Path]:
    """The link child's work, run here so its parts can be watched; the files made."""
    from ferryman.links import grab

    grab.grab(
        url=url,
        token=profile.token(),
        folder=str(folder),
        options=grab.GrabOptions(),
        progress=lambda _f: None,
        event=lambda _name, _value: None,
    )
    return sorted((folder / grab.OUT_DIR).iterdir())


def test_an_hls_picture_is_joined_with_its_sound_while_it_downloads(
    server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sound first, then ffmpeg copies the picture into the MP4 as it arrives: the
    join overlaps the download instead of following it."""
    from ferryman.media import ffmpeg_binary

    streamed: list[Path] = []
    after: list[Path] = []
    join, join_copy = ffmpeg_binary.streaming_join, ffmpeg_binary.join_copy

    def watched_join(*args: Any, **kwargs: Any) -> Any:
        streamed.append(args[1])  # the sound, already downloaded when the join starts
        assert args[1].exists()
        return join(*args, **kwargs)

    def watched_copy(*args: Any, **kwargs: Any) -> Any:
        after.append(args[1])
        return join_copy(*args, **kwargs)

    monkeypatch.setattr(ffmpeg_binary, "streaming_join", watched_join)
    monkeypatch.setattr(ffmpeg_binary, "join_copy", watched_copy)
    (made,) = _grab_in_process(
        server.url("/hls/master.m3u8"), Profile(Output.VIDEO, 720), tmp_path / "grab"
    )
    assert len(streamed) == 1 and after == []
    duration, size, sound, _ = _streams(made)
    assert size == (1280, 720) and sound == "aac"
    assert abs(duration - SECONDS) < 0.5
    assert _moov_first(made)


def test_a_join_while_downloading_that_does_not_fit_is_made_from_the_files(
    server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the copy fits (H.264 at the size asked, AAC) is known only once both
    are in: when it does not, the streamed join is dropped and the files are joined."""
    from ferryman.media import ffmpeg_binary, linkout

    after: list[Path] = []
    join_copy = ffmpeg_binary.join_copy

    def watched_copy(*args: Any, **kwargs: Any) -> Any:
        after.append(args[1])
        return join_copy(*args, **kwargs)

    monkeypatch.setattr(linkout, "joins_by_copy", lambda *_args: False)
    monkeypatch.setattr(ffmpeg_binary, "join_copy", watched_copy)
    (made,) = _grab_in_process(
        server.url("/hls/master.m3u8"), Profile(Output.VIDEO, 720), tmp_path / "grab"
    )
    assert len(after) == 1  # made again from the two downloads
    duration, size, sound, _ = _streams(made)
    assert size == (1280, 720) and sound == "aac" and abs(duration - SECONDS) < 0.5


@pytest.mark.parametrize("fault", ["ffmpeg fails", "ffmpeg reads part of it", "verify fails"])
def test_a_join_while_downloading_that_fails_is_made_from_the_files(
    server: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """ffmpeg's own failure, a stream it stopped reading early (it may still exit 0)
    or a made file that does not pass the check: the two downloads are joined anew."""
    from ferryman.errors import FerrymanError
    from ferryman.links import make
    from ferryman.media import ffmpeg_binary

    encoder = ffmpeg_binary.StreamingEncoder
    finish, finish_output = encoder.finish, make.finish_output
    remade: list[Path] = []

    def failing_finish(self: Any) -> None:
        finish(self)
        if fault == "ffmpeg fails":
            raise FerrymanError("media.convert_failed", "ffmpeg's join: broken")
        if fault == "ffmpeg reads part of it":
            self.fed -= 1

    def checked(info: Any, profile: Any, partial: Path, *args: Any) -> Any:
        if fault == "verify fails" and not remade:
            remade.append(partial)
            raise FerrymanError("media.incomplete", "the picture ends early")
        remade.append(partial)
        return finish_output(info, profile, partial, *args)

    joined: list[Path] = []
    join_copy = ffmpeg_binary.join_copy

    def watched_copy(*args: Any, **kwargs: Any) -> Any:
        joined.append(args[1])
        return join_copy(*args, **kwargs)

    monkeypatch.setattr(encoder, "finish", failing_finish)
    monkeypatch.setattr(make, "finish_output", checked)
    monkeypatch.setattr(ffmpeg_binary, "join_copy", watched_copy)
    (made,) = _grab_in_process(
        server.url("/hls/master.m3u8"), Profile(Output.VIDEO, 720), tmp_path / "grab"
    )
    assert len(joined) == 1  # the two downloads, joined anew
    assert len(remade) == (2 if fault == "verify fails" else 1)  # the second: the files'
    duration, size, sound, _ = _streams(made)
    assert size == (1280, 720) and sound == "aac" and abs(duration - SECONDS) < 0.5
