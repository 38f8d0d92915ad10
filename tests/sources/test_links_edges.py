"""Links a person pastes that the happy path does not meet, through the whole engine
offline (``tests/support/mediaserve.py``'s site): a server that sends no
Content-Length, and a stream with no sound asked as MP3."""

from __future__ import annotations

import pytest

from ferryman.config import Settings
from ferryman.engine.plumbing.events import Event, JobFetching, JobResumed
from ferryman.links.profile import Output, Profile
from ferryman.model import JobState
from ferryman.store import Store
from tests.sources.test_links_engine import _deliver, link_settings, server, site  # noqa: F401
from tests.support.httpserve import FaultServer, Link, serving
from tests.support.mediaserve import MediaSite

pytestmark = pytest.mark.slow


async def test_a_download_of_unknown_size_reports_its_bytes_as_they_come(
    site: MediaSite,  # noqa: F811
    link_settings: Settings,  # noqa: F811
) -> None:
    """No Content-Length, no size in the page: the share cannot be known until the
    end, so the bytes so far are what moves (the job said 0 % and nothing else until
    its download was in)."""
    events: list[Event] = []
    with serving(Link(bandwidth=100_000)) as slow:
        site.serve(slow)
        data = (site.root / "clip.mp4").read_bytes()
        slow.add("/nolength.mp4", data, content_type="video/mp4", send_length=False)
        _, state, _, files = await _deliver(
            link_settings, slow.url("/nolength.mp4"), Profile(Output.MP3, None, 128), events
        )
    assert state is JobState.DONE and len(files) == 1
    fetching = [e for e in events if isinstance(e, JobFetching)]
    downloading = [e.done for e in fetching if e.phase == "downloading" and e.total is None]
    assert len(set(downloading)) >= 5, [(e.done, e.total, e.phase) for e in fetching]
    assert downloading == sorted(downloading) and max(downloading) > len(data) // 2


@pytest.mark.parametrize(
    "profile", [Profile(Output.MP3, None, 128), Profile(Output.M4A, None)], ids=["mp3", "m4a"]
)
async def test_audio_of_a_stream_without_sound_fails_at_once_saying_so(
    link_settings: Settings,  # noqa: F811
    server: FaultServer,  # noqa: F811
    profile: Profile,
) -> None:
    """A video-only HLS stream asked as MP3 (encoded as it arrives) or M4A (made from
    the download): ``media.no_audio`` (its step: take the video instead), not a
    conversion failure retried three times, in words naming the video, not the work
    area's file ("0.mp4: no audio stream") nor the encoder."""
    events: list[Event] = []
    job, state, code, files = await _deliver(
        link_settings, server.url("/hls/v360/index.m3u8"), profile, events
    )
    assert (state, code, files) == (JobState.FAILED, "media.no_audio", [])
    assert not [e for e in events if isinstance(e, JobResumed)]  # no retry
    store = await Store.open(link_settings.database)
    try:
        message = (await store.get_job(job)).error_message or ""
    finally:
        await store.close()
    assert message.startswith("v360: the video has no sound"), message  # its title
    assert profile.describe() in message, message


async def test_an_hls_download_moves_within_each_fragment_and_from_the_first(
    site: MediaSite,  # noqa: F811
    link_settings: Settings,  # noqa: F811
) -> None:
    """A slow server's HLS stream (6 one-second fragments of picture, 6 of sound): the
    share rises as each fragment's bytes come, not only when one ends, and says the
    first fragment done once it is (it said the fragments done one behind: 0 % until
    the second fragment ended)."""
    events: list[Event] = []
    with serving(Link(bandwidth=150_000)) as slow:
        site.serve(slow)
        _, state, _, _ = await _deliver(
            link_settings, slow.url("/hls/master.m3u8"), Profile(Output.MUTE, 360), events
        )
    assert state is JobState.DONE
    fetching = [e for e in events if isinstance(e, JobFetching) and e.phase == "downloading"]
    shares = [e.fraction for e in fetching if e.fraction]
    # A value per fragment at most before; several within each fragment now.
    assert len(set(shares)) > 2 * 6, shares
    # Said within the first fragment (the download is 95 % of the whole, in 6 steps).
    assert shares[0] < 0.95 / 6, shares


@pytest.mark.parametrize(
    ("path", "code"),
    [("/loop", "source.http.refused"), ("/noise.bin", "link.no_media")],
    ids=["redirect-loop", "not-media"],
)
async def test_a_link_going_nowhere_says_what_it_is_not_to_update_yt_dlp(
    link_settings: Settings,  # noqa: F811
    server: FaultServer,  # noqa: F811
    path: str,
    code: str,
) -> None:
    """A link that redirects to itself, a link to bytes no decoder reads: each is the
    link's fault, said so, not ``source.changed`` (whose step is to update yt-dlp), and
    no work-area path in the words a person reads."""
    server.redirect("/loop", "/loop")
    server.add("/noise.bin", bytes(range(256)) * 40, content_type="application/octet-stream")
    job, state, error, files = await _deliver(
        link_settings, server.url(path), Profile(Output.MP3, None, 128)
    )
    assert (state, error, files) == (JobState.FAILED, code, [])
    store = await Store.open(link_settings.database)
    try:
        message = (await store.get_job(job)).error_message or ""
    finally:
        await store.close()
    assert str(link_settings.data_dir) not in message and "/work/" not in message, message
