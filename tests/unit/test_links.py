# ruff: noqa: E501  (the failure table keeps each recorded message on one line)
"""Links to media, without the network: profiles, canonical links, format choice, and
yt-dlp's failures mapped to codes (a table of recorded messages per platform)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ferryman.errors import FerrymanError, ServerWait, spec_for
from ferryman.links.canonical import canonical, is_platform
from ferryman.links.failures import Failure, code_for, error_for
from ferryman.links.profile import Output, Profile, from_caption, from_choices, parse_token
from ferryman.links.select import choose
from ferryman.links.uri import MediaRef, as_media, parse

# ------------------------------------------------------------------------- profiles


@pytest.mark.parametrize(
    "profile",
    [
        Profile(),
        Profile(Output.VIDEO, None),
        Profile(Output.MUTE, 480),
        Profile(Output.MP3, None, 320, playlist=True),
        Profile(Output.MP3, None, None),
        Profile(Output.M4A, None),
        Profile(Output.OPUS, None, 96),
    ],
)
def test_a_profile_survives_its_token(profile: Profile) -> None:
    assert parse_token(profile.token()) == profile


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        ({}, None),
        ({"audio": "mp3"}, Profile(Output.MP3, None, None)),
        ({"audio": "MP3", "bitrate": 128}, Profile(Output.MP3, None, 128)),
        ({"bitrate": 256}, Profile(Output.MP3, None, 256)),
        ({"quality": "720p"}, Profile(Output.VIDEO, 720)),
        ({"quality": "best"}, Profile(Output.VIDEO, None)),
        ({"mute": True, "quality": "480"}, Profile(Output.MUTE, 480)),
        ({"playlist": True}, Profile(playlist=True)),
    ],
)
def test_cli_choices_make_a_profile(choices: dict[str, Any], expected: Profile | None) -> None:
    assert from_choices(**choices) == expected


@pytest.mark.parametrize(
    "choices",
    [
        {"audio": "flac"},
        {"audio": "mp3", "bitrate": 200},
        {"quality": "721p"},
        {"audio": "mp3", "mute": True},
        {"audio": "m4a", "bitrate": 128},
        {"audio": "mp3", "quality": "720p"},
    ],
)
def test_impossible_choices_are_refused_with_a_code(choices: dict[str, Any]) -> None:
    with pytest.raises(FerrymanError) as caught:
        from_choices(**choices)
    assert caught.value.code == "link.bad_profile"
    assert "mp3" in spec_for("link.bad_profile").next_step


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("mp3 192", Profile(Output.MP3, None, 192)),
        ("as MP3 320 kbps please", Profile(Output.MP3, None, 320)),
        ("720p", Profile(Output.VIDEO, 720)),
        ("4k", Profile(Output.VIDEO, 2160)),
        ("m4a", Profile(Output.M4A, None)),
        ("mute 480p", Profile(Output.MUTE, 480)),
        ("best playlist", Profile(Output.VIDEO, None, playlist=True)),
        ("to: me", None),
        ("my holiday photos", None),
        ("", None),
    ],
)
def test_a_caption_names_a_profile(caption: str, expected: Profile | None) -> None:
    assert from_caption(caption) == expected


def test_media_uris_keep_the_profile_and_the_fresh_flag_apart_from_the_cache_key() -> None:
    ref = MediaRef("https://youtu.be/dQw4w9WgXcQ", Profile(Output.MP3, None, 192), fresh=True)
    again = parse(ref.uri)
    assert again == ref
    assert ref.cache_key == MediaRef(ref.url, ref.profile).cache_key
    assert ref.cache_key != MediaRef(ref.url, Profile()).cache_key  # MP3 is not MP4
    assert as_media("https://example.com/a.mp4", None) is None  # the server decides
    assert as_media("https://youtu.be/dQw4w9WgXcQ", None, fresh=True) is not None
    with pytest.raises(FerrymanError) as caught:
        parse("media:mp3-192:ftp://x")
    assert caught.value.code == "link.invalid"


# ------------------------------------------------------------------------ canonical


@pytest.mark.parametrize(
    "link",
    [
        "https://youtu.be/dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ?si=abcdef",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s",
        "https://m.youtube.com/watch?feature=share&v=dQw4w9WgXcQ",
        "https://youtube.com/shorts/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
    ],
)
def test_every_way_of_naming_a_youtube_video_is_one_key(link: str) -> None:
    assert canonical(link) == "youtube:dQw4w9WgXcQ"


def test_other_links_keep_what_matters_and_drop_tracking() -> None:
    assert canonical("https://x.com/ann/status/123?s=20") == "x:123"
    assert canonical("https://twitter.com/ann/status/123") == "x:123"
    assert canonical("https://Example.com:443/v/1/?utm_source=x&b=2&a=1#frag") == (
        "https://example.com/v/1?a=1&b=2"
    )
    assert canonical("https://example.com/v?id=1") != canonical("https://example.com/v?id=2")
    assert is_platform("https://www.tiktok.com/@a/video/1")
    assert is_platform("https://vm.tiktok.com/xyz")
    assert not is_platform("https://example.com/video.mp4")
    assert not is_platform("https://notyoutube.com/watch?v=1")


# ------------------------------------------------------------------------ selection


def _fmt(
    fid: str, *, height: int | None = None, width: int | None = None, **kw: Any
) -> dict[str, Any]:
    return {"format_id": fid, "url": f"https://cdn/{fid}", "height": height, "width": width, **kw}


YOUTUBE_LIKE = [  # worst first, as yt-dlp sorts them
    _fmt("18", height=360, width=640, vcodec="avc1.42001E", acodec="mp4a.40.2"),
    _fmt("140", vcodec="none", acodec="mp4a.40.2", abr=129.0),
    _fmt("251", vcodec="none", acodec="opus", abr=135.0),
    _fmt("134", height=360, width=640, vcodec="avc1.4d401e", acodec="none"),
    _fmt("136", height=720, width=1280, vcodec="avc1.4d401f", acodec="none"),
    _fmt("137", height=1080, width=1920, vcodec="avc1.640028", acodec="none"),
    _fmt("401", height=2160, width=3840, vcodec="av01.0.12M.08", acodec="none"),
]


def test_1080p_is_the_best_picture_that_fits_merged_with_the_best_sound() -> None:
    choice = choose(YOUTUBE_LIKE, Profile())
    assert choice.format_ids == ("137", "251")  # not format 18's 360p (the seed's bug)
    assert choice.note == "asked 1080p; delivered 1080p"


def test_a_lower_ceiling_and_best() -> None:
    assert choose(YOUTUBE_LIKE, Profile(Output.VIDEO, 720)).format_ids == ("136", "251")
    assert choose(YOUTUBE_LIKE, Profile(Output.VIDEO, None)).format_ids == ("401", "251")
    assert choose(YOUTUBE_LIKE, Profile(Output.MUTE, 720)).format_ids == ("136",)


def test_the_report_says_when_the_source_has_less_than_asked() -> None:
    small = [f for f in YOUTUBE_LIKE if (f.get("height") or 0) <= 720]
    choice = choose(small, Profile(Output.VIDEO, 1080))
    assert choice.format_ids == ("136", "251")
    assert choice.note == "asked 1080p; best available 720p"


def test_a_vertical_video_is_sized_by_its_short_side() -> None:
    vertical = [
        _fmt("a", height=1920, width=1080, vcodec="h264", acodec="aac"),
        _fmt("b", height=1280, width=720, vcodec="h264", acodec="aac"),
    ]
    assert choose(vertical, Profile(Output.VIDEO, 1080)).format_ids == ("a",)
    assert choose(vertical, Profile(Output.VIDEO, 720)).format_ids == ("b",)


def test_everything_larger_than_asked_takes_the_smallest_and_scales_it() -> None:
    big = [_fmt("hd", height=1080, width=1920, vcodec="h264", acodec="aac")]
    choice = choose(big, Profile(Output.VIDEO, 360))
    assert choice.format_ids == ("hd",) and choice.scale_to == 360


def test_audio_takes_the_best_sound_alone_or_the_cheapest_picture_that_has_one() -> None:
    assert choose(YOUTUBE_LIKE, Profile(Output.MP3, None, 192)).format_ids == ("251",)
    muxed = [
        _fmt("lo", height=360, vcodec="h264", acodec="aac", abr=128),
        _fmt("hi", height=1080, vcodec="h264", acodec="aac", abr=128),
    ]
    assert choose(muxed, Profile(Output.MP3, None, 192)).format_ids == ("lo",)


def test_no_usable_format_is_no_media() -> None:
    only_sound = [_fmt("a", vcodec="none", acodec="mp3")]
    with pytest.raises(FerrymanError) as caught:
        choose(only_sound, Profile())
    assert caught.value.code == "link.no_media"


# ------------------------------------------------------------------- failure table

# (platform, exception class, message, HTTP status, expected) → code. Messages as
# yt-dlp words them (its extractors' own strings), with YouTube's curly apostrophe.
RECORDED: list[tuple[str, str, str, int | None, bool, str]] = [
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: Private video. Sign in if you've been granted access to this video", None, True, "content.private"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: Sign in to confirm your age. This video may be inappropriate for some users.", None, True, "content.age_restricted"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser or --cookies for the authentication.", None, True, "source.bot_check"),
    ("youtube", "GeoRestrictedError", "[youtube] dQw4w9WgXcQ: The uploader has not made this video available in your country", None, True, "content.geo_blocked"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: Video unavailable. This video has been removed by the uploader", None, True, "content.unavailable"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: Join this channel to get access to members-only content like this video, and other exclusive perks.", None, True, "content.login_required"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: This live event will begin in 3 hours.", None, True, "content.live"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: Premieres in 2 hours", None, True, "content.live"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: This video is DRM protected", None, True, "content.drm"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: Video unavailable. This content isn\u2019t available, try again later. The current session has been rate-limited by YouTube for up to an hour.", None, True, "source.rate_limited"),
    ("youtube", "HTTPError", "HTTP Error 429: Too Many Requests", 429, True, "source.rate_limited"),
    ("youtube", "RegexNotFoundError", "[youtube] dQw4w9WgXcQ: Unable to extract yt initial data; please report this issue on https://github.com/yt-dlp/yt-dlp/issues", None, False, "source.changed"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: Failed to parse JSON (caused by JSONDecodeError('Expecting value'))", None, False, "source.changed"),
    ("youtube", "ExtractorError", "[youtube] dQw4w9WgXcQ: This live stream recording is not available.", None, True, "content.unavailable"),
    ("x", "ExtractorError", "[twitter] 1234: NSFW tweet requires authentication. Use --cookies, --cookies-from-browser, --username and --password", None, True, "content.age_restricted"),
    ("x", "ExtractorError", "[twitter] 1234: No video could be found in this tweet", None, True, "link.no_media"),
    ("x", "ExtractorError", "[twitter] 1234: Requested tweet is unavailable", None, True, "content.unavailable"),
    ("tiktok", "ExtractorError", "[TikTok] 7301: Your IP address is blocked from accessing this post", None, True, "content.geo_blocked"),
    ("tiktok", "ExtractorError", "[TikTok] 7301: This post may not be comfortable for some audiences. Log in for access", None, True, "content.age_restricted"),
    ("tiktok", "ExtractorError", "[TikTok] 7301: Video not available, status code 10204", None, True, "content.unavailable"),
    ("instagram", "ExtractorError", "[Instagram] Cx1: Requested content is not available, rate-limit reached or login required. Use --cookies", None, True, "source.rate_limited"),
    ("instagram", "ExtractorError", "[Instagram] Cx1: Instagram sent an empty media response. Check if this post is accessible in your browser without being logged-in. If it is not, then use --cookies-from-browser or --cookies", None, True, "content.login_required"),
    ("facebook", "ExtractorError", "[facebook] 1: This video is only available for registered users. Use --cookies", None, True, "content.login_required"),
    ("facebook", "ExtractorError", "[facebook] 1: Cannot parse data; please report this issue on https://github.com/yt-dlp/yt-dlp/issues", None, False, "source.changed"),
    ("vimeo", "ExtractorError", "[vimeo] 76979871: This video is protected by a password, use the --video-password option", None, True, "content.login_required"),
    ("vimeo", "HTTPError", "[vimeo] 76979871: Unable to download JSON metadata: HTTP Error 404: Not Found", 404, True, "content.unavailable"),
    ("reddit", "ExtractorError", "[Reddit] abc: No media found", None, True, "link.no_media"),
    ("soundcloud", "GeoRestrictedError", "[soundcloud] 1: This track is not available in your country", None, True, "content.geo_blocked"),
    ("generic", "UnsupportedError", "Unsupported URL: https://example.com/page", None, True, "link.no_media"),
    ("generic", "TransportError", "[generic] Unable to download webpage: <urlopen error [Errno 111] Connection refused>", None, True, "source.network"),
    ("generic", "TransportError", "[generic] Unable to download webpage: The read operation timed out", None, True, "source.network"),
    ("generic", "TransportError", "HTTPSConnection(host='login.no-such-host.invalid', port=443): Failed to resolve 'login.no-such-host.invalid' ([Errno -2] Name or service not known)", None, True, "source.host_unknown"),
    ("generic", "TransportError", "HTTPSConnection(host='example.com', port=443): Failed to resolve 'example.com' ([Errno -3] Temporary failure in name resolution)", None, True, "source.network"),
    ("generic", "CertificateVerifyError", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)", None, True, "source.tls_refused"),
    ("generic", "HTTPError", "ERROR: [generic] Unable to download webpage: HTTP Error 403: Forbidden", 403, True, "content.login_required"),
    ("generic", "HTTPError", "[generic] Unable to download webpage: HTTP Error 503: Service Unavailable", 503, True, "source.network"),
    ("generic", "ExtractorError", "[generic] 'not a link' is not a valid URL", None, True, "link.invalid"),
    ("generic", "DownloadError", "ERROR: something nobody foresaw", None, True, "source.changed"),
    ("youtube", "ExtractorError", "[youtube:tab] UCxyz: This tab is not supported", None, True, "link.unsupported"),
    ("generic", "DownloadError", "ERROR: m3u8 download detected but ffmpeg could not be found. Please install", None, True, "link.not_native"),
    ("generic", "HTTPError", "[generic] Unable to download webpage: HTTP Error 302: Found (redirect loop detected)", 302, True, "source.http.refused"),
    ("generic", "InvalidDataError", "[Errno 1094995529] Invalid data found when processing input: '/data/work/job-00001/fetch/entry-0/0.unknown_video'", None, True, "link.no_media"),
]  # fmt: skip


@pytest.mark.parametrize(("platform", "kind", "message", "status", "expected", "code"), RECORDED)
def test_recorded_failures_map_to_their_codes(
    platform: str, kind: str, message: str, status: int | None, expected: bool, code: str
) -> None:
    failure = Failure(kind, message, status, expected)
    assert code_for(failure) == code, platform
    coded = error_for(failure)
    assert coded.code == code
    assert coded.retryable == spec_for(code).retryable
    assert not coded.message.startswith("ERROR")  # yt-dlp's prefix is not for people


def test_retrying_helps_only_where_waiting_can() -> None:
    waits = {"source.bot_check", "source.rate_limited", "source.network", "content.live"}
    for _, kind, message, status, expected, code in RECORDED:
        assert error_for(Failure(kind, message, status, expected)).retryable == (code in waits)


def test_a_live_stream_is_looked_at_again_without_using_up_the_tries() -> None:
    live = error_for(Failure("ExtractorError", "This live event will begin in 3 hours."))
    assert isinstance(live, ServerWait) and live.code == "content.live" and live.seconds >= 600


def test_a_rate_limit_is_a_server_wait_honouring_retry_after() -> None:
    coded = error_for(Failure("HTTPError", "HTTP Error 429", 429, True, retry_after=120))
    assert isinstance(coded, ServerWait) and coded.seconds == 120
    unsaid = error_for(Failure("ExtractorError", "rate-limited by YouTube for up to an hour"))
    assert isinstance(unsaid, ServerWait) and unsaid.seconds > 0


# ------------------------------------------------------------------ cache and health


def test_the_result_cache_keeps_a_result_for_its_ttl_under_its_own_key(tmp_path: Path) -> None:
    from ferryman.links.cache import ResultCache

    now = [1000.0]
    cache = ResultCache(tmp_path / "cache", ttl=60, clock=lambda: now[0])
    out = tmp_path / "out"
    out.mkdir()
    (out / "song.mp3").write_bytes(b"ID3" + bytes(100))
    mp3 = MediaRef("https://youtu.be/dQw4w9WgXcQ", Profile(Output.MP3, None, 192))
    cache.put(mp3.cache_key, out, ["song.mp3"], {"0": {"file": "song.mp3"}})
    same_video = MediaRef("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=3", mp3.profile)
    hit = cache.get(same_video.cache_key)
    assert hit is not None and hit.files == ("song.mp3",)
    assert cache.get(MediaRef(mp3.url, Profile()).cache_key) is None  # an MP4 is not the MP3
    restored = tmp_path / "again"
    cache.restore(hit, restored)
    assert (restored / "song.mp3").read_bytes() == (out / "song.mp3").read_bytes()
    now[0] += 61
    assert cache.get(mp3.cache_key) is None  # expired, and removed
    assert list((tmp_path / "cache").iterdir()) == []
    assert ResultCache(tmp_path / "off", ttl=0).get(mp3.cache_key) is None


def test_health_says_how_each_extractor_fared(tmp_path: Path) -> None:
    from ferryman.links.health import extractors, record, summary

    for n in range(10):
        record(tmp_path, "YouTube", "source.bot_check" if n < 3 else None, now=5000.0 + n)
    record(tmp_path, "vimeo", None, now=10.0)  # long ago
    lines = [t.line("in the last hour") for t in summary(tmp_path, since=4000.0)]
    assert lines == ["youtube: 3 of 10 failed (3 with source.bot_check) in the last hour"]
    found = extractors()
    assert found.version is not None and found.age_days is not None and found.age_days >= 0
    assert found.update == "ferryman update"


def test_staging_a_file_the_job_owns_links_it_instead_of_copying(tmp_path: Path) -> None:
    import hashlib

    from ferryman.engine.read.stage import MadeHere, Target, stage_entry
    from ferryman.model import MediaKind
    from tests.support.mediaserve import write_media

    made = write_media(tmp_path / "made.mp4", size=(160, 90), audio=True, seconds=1.0)

    def blocks() -> Iterator[bytes]:
        with open(made, "rb") as handle:
            while block := handle.read(1000):
                yield block

    staged = stage_entry(
        blocks(), "made.mp4", Target(tmp_path / "w.mp4", lambda k: True), MadeHere(made)
    )
    assert staged.kind is MediaKind.VIDEO and staged.path == tmp_path / "w.mp4"
    assert staged.sha256 == hashlib.sha256(made.read_bytes()).hexdigest()
    assert staged.size == made.stat().st_size
    assert (tmp_path / "w.mp4").stat().st_ino == made.stat().st_ino  # one file, two names
    assert not (tmp_path / "w.mp4.part").exists()


def _asks_to_wait(progress: object) -> None:
    """A child target (module level: ``spawn`` imports it) that meets a live stream."""
    raise ServerWait("content.live", "the premiere has not begun", 900)


@pytest.mark.slow  # starts a child process
async def test_a_server_wait_in_the_child_arrives_with_its_seconds() -> None:
    """grab runs in a child process: a wait it meets must reach the fetch stage as a
    wait (uncounted, for that long), not as a plain failure."""
    from ferryman.media.child import run_in_child

    with pytest.raises(ServerWait) as caught:
        await run_in_child(_asks_to_wait, {}, on_progress=None, timeout=60)
    assert (caught.value.code, caught.value.seconds) == ("content.live", 900)


_YT_DLP_UPDATED = """
import json
import yt_dlp
from yt_dlp import version
from ferryman.links.grab import installed_yt_dlp

loaded, on_disk = yt_dlp, version.__version__
unchanged = installed_yt_dlp() is loaded
version.__version__ = "1999.01.01"  # what a template loaded before an update holds
fresh = installed_yt_dlp()
print(json.dumps({
    "unchanged_kept": unchanged,
    "reloaded": fresh is not loaded,
    "version": fresh.version.__version__,
    "on_disk": on_disk,
    "kept_after": installed_yt_dlp() is fresh,
}))
"""


@pytest.mark.slow  # starts a child process
def test_a_child_loads_yt_dlp_afresh_after_an_update() -> None:
    """A link's child forks from a template that loaded yt-dlp when ferryman started;
    after ``pip install -U yt-dlp`` it must not run the old core with new extractors."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _YT_DLP_UPDATED], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["unchanged_kept"] is True  # no update: nothing loaded again
    assert seen["reloaded"] is True
    assert seen["version"] == seen["on_disk"] != "1999.01.01"
    assert seen["kept_after"] is True


def test_an_output_asked_of_an_input_that_is_no_link_names_it_plainly(tmp_path: Path) -> None:
    """A file by its name alone (an upload's server path is not shown); another kind of
    input (a Torbox item) as it was given, not cut to its last part."""
    from ferryman.engine.ops import intake
    from ferryman.errors import FerrymanError

    clip = tmp_path / "deep" / "clip.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"\x00" * 64)
    mp3 = Profile(Output.MP3, None, 192)
    for given, named in ((clip, "clip.mp4 "), ("torbox:torrent/7", "torbox:torrent/7 ")):
        with pytest.raises(FerrymanError) as caught:
            intake.understand(given, profile=mp3)
        assert caught.value.code == "link.output_for_file"
        assert caught.value.message.startswith(named) and "deep" not in caught.value.message
