"""Subtitles, chapters and a media server's metadata from a link (issue 80), offline: a
local page whose JSON-LD names an HLS stream with WebVTT subtitles in two languages,
two chapters, a description, a date and a thumbnail (``tests/support/mediaserve``).
yt-dlp extracts and fetches them; the library receives the MP4 with ``mov_text``
tracks and chapters, the ``.srt`` files beside it, an ``.nfo`` and the poster."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.links.profile import Output, Profile, from_caption, from_choices, parse_token
from ferryman.model import JobState
from ferryman.store import Store
from tests.support.httpserve import FaultServer, serving
from tests.support.mediaserve import SUBTITLES, MediaSite
from tests.support.once import built_once


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> MediaSite:
    return built_once(tmp_path_factory, "media-site", MediaSite.make)


@pytest.fixture
def server(site: MediaSite) -> Iterator[FaultServer]:
    with serving() as started:
        yield site.serve(started)


def _tracks(path: Path) -> tuple[list[tuple[str, str]], list[tuple[str, int, int]]]:
    """The MP4's subtitle tracks (codec, language) and its chapters (title, start ms,
    end ms)."""
    with av.open(str(path)) as media:
        subs = [
            (s.codec_context.name, s.metadata.get("language", "")) for s in media.streams.subtitles
        ]
        chapters = [
            (c["metadata"].get("title", ""), int(c["start"] * c["time_base"] * 1000),
             int(c["end"] * c["time_base"] * 1000))
            for c in media.chapters()
        ]  # fmt: skip
    return subs, chapters


def _cue_words(path: Path) -> list[str]:
    with av.open(str(path)) as media:
        stream = media.streams.subtitles[0]
        return [bytes(p)[2:].decode() for p in media.demux(stream) if p.size > 2]


async def test_a_library_gets_srt_nfo_and_poster_beside_an_mp4_with_subtitles_and_chapters(
    settings: Settings, server: FaultServer
) -> None:
    profile = Profile(subs=("en", "de"), nfo=True)
    # The library as a person has it: files by name (the default layout), originals kept.
    media = settings.media.model_copy(update={"library_convert": False})
    settings = settings.model_copy(
        update={"library_layout": "{source}/{path}/{name}", "media": media}
    )
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, server.url("/chaptered.html"), profile=profile)
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 180)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, done.error_code
    folder = settings.library / "Tides of the harbour"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "Tides of the harbour-thumb.jpg",
        "Tides of the harbour.de.srt",
        "Tides of the harbour.en.srt",
        "Tides of the harbour.mp4",
        "Tides of the harbour.nfo",
        "poster.jpg",
    ]
    subs, chapters = _tracks(folder / "Tides of the harbour.mp4")
    assert subs == [("mov_text", "eng"), ("mov_text", "deu")]
    assert chapters == [("Morning", 0, 3000), ("Evening", 3000, 6000)]
    assert _cue_words(folder / "Tides of the harbour.mp4") == list(SUBTITLES["en"])
    srt = (folder / "Tides of the harbour.de.srt").read_text()
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,300\nWellen kommen\n\n")
    assert all(words in srt for words in SUBTITLES["de"])
    nfo = ET.parse(folder / "Tides of the harbour.nfo").getroot()
    assert nfo.tag == "movie"
    said = {child.tag: child.text for child in nfo}
    assert said["title"] == "Tides of the harbour"
    assert said["plot"] == "A day at the harbour & its tides."
    assert said["studio"] == "Harbour Films"
    assert said["premiered"] == "2026-03-14"
    assert said["uniqueid"] == "chaptered"
    with av.open(str(folder / "poster.jpg")) as poster:
        picture = poster.streams.video[0].codec_context
        assert (picture.name, picture.width, picture.height) == ("mjpeg", 320, 180)


def test_for_telegram_and_download_links_the_subtitles_are_in_the_mp4_alone(
    server: FaultServer, tmp_path: Path
) -> None:
    made = _grab_in_process(server.url("/chaptered.html"), Profile(subs=("en",)), tmp_path)
    assert [p.name for p in made] == ["Tides of the harbour.mp4"]  # no sidecar
    subs, chapters = _tracks(made[0])
    assert subs == [("mov_text", "eng")]
    assert [title for title, _, _ in chapters] == ["Morning", "Evening"]


def test_chapters_are_kept_without_subtitles_and_a_language_missing_is_no_failure(
    server: FaultServer, tmp_path: Path
) -> None:
    made = _grab_in_process(server.url("/chaptered.html"), Profile(subs=("fr",)), tmp_path)
    subs, chapters = _tracks(made[0])
    assert subs == [] and len(chapters) == 2


def _grab_in_process(url: str, profile: Profile, folder: Path) -> list[Path]:
    from ferryman.links import grab

    def ignore(*_args: Any) -> None:
        pass

    grab.grab(
        url=url,
        token=profile.token(),
        folder=str(folder),
        options=grab.GrabOptions(),
        progress=ignore,
        event=ignore,
    )
    return sorted((folder / grab.OUT_DIR).iterdir())


def test_subtitles_are_asked_on_the_cli_and_in_the_chat_and_travel_in_the_token() -> None:
    asked = from_choices(quality="720p", subs="en,de", nfo=True)
    assert asked == Profile(Output.VIDEO, 720, subs=("en", "de"), nfo=True)
    assert asked.token() == "video-720+subs-en.de+nfo"
    assert parse_token(asked.token()) == asked
    assert from_caption("720p subs en, de nfo") == asked
    assert from_caption("mp3 subs pt-BR") == Profile(Output.MP3, None, subs=("pt-BR",))
    assert parse_token("mp3-192+playlist+subs-en") == Profile(
        Output.MP3, None, 192, playlist=True, subs=("en",)
    )
    assert from_choices(subs="en") == Profile(subs=("en",))  # the default MP4, with subtitles
    from ferryman.errors import FerrymanError

    with pytest.raises(FerrymanError, match="language code"):
        from_choices(subs="english!")
    with pytest.raises(FerrymanError, match="not an output profile"):
        parse_token("video-720+subtitles")
