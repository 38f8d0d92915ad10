"""No program yt-dlp could start reaches past the egress guard (issue 56, item 2).

yt-dlp hands an HLS manifest to an ``ffmpeg`` on PATH when its own downloader meets what
it does not do (an AES-128 key without pycryptodomex, SAMPLE-AES, a live stream); that
program's sockets are not the link child's, so the guard never saw them. Here a real
ffmpeg (imageio-ffmpeg's, behind a script named ``ffmpeg`` that notes each start) is on
PATH, the guard is set as on an exposed page (``network.block_private``; 127.0.0.1
stands for a public site through ``private_allowed``, 127.0.0.2 for a machine inside),
and manifests served by the public site point keys, segments, init sections and
redirects inside, at link-local and at cloud metadata addresses. Nothing reaches the
inside server, no ``ffmpeg`` is started by yt-dlp, and the link ends with a code.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest
from yt_dlp.aes import aes_cbc_encrypt_bytes

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.errors import FerrymanError
from ferryman.links import grab
from ferryman.links.profile import Output, Profile
from ferryman.model import JobState
from ferryman.store import Store
from tests.support.httpserve import FaultServer, serving
from tests.support.mediaserve import MediaSite
from tests.support.once import built_once

pytestmark = pytest.mark.slow

KEY = bytes(range(16))
IV = bytes(16)
METADATA = "http://169.254.169.254/latest/meta-data/key"
LINK_LOCAL = "http://169.254.10.10/seg0.ts"
MPEGURL = "application/vnd.apple.mpegurl"
DASH = "application/dash+xml"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> MediaSite:
    return built_once(tmp_path_factory, "media-site", MediaSite.make)  # one per run


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real ffmpeg first on PATH, as a phone's or a server's; each start noted in the
    file returned."""
    folder = tmp_path / "bin"
    folder.mkdir()
    noted = tmp_path / "ffmpeg-started"
    real = imageio_ffmpeg.get_ffmpeg_exe()
    script = folder / "ffmpeg"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{noted}"\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return noted


@pytest.fixture
def public(site: MediaSite) -> Iterator[FaultServer]:
    with serving() as server:
        yield site.serve(server)


@pytest.fixture
def inside() -> Iterator[FaultServer]:
    with serving(host="127.0.0.2") as server:
        server.add("/key", KEY, content_type="application/octet-stream")
        server.add("/init.mp4", b"\0" * 64, content_type="video/mp4")
        server.add("/seg0.ts", b"G" * 188 * 4, content_type="video/mp2t")
        yield server


def _sound_segments(site: MediaSite) -> list[bytes]:
    return [p.read_bytes() for p in sorted((site.root / "hls" / "audio").glob("seg*.ts"))]


def _manifest(
    key: str, method: str = "AES-128", segments: list[str] = (), head: str = "", end: bool = True
) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:2", head]
    lines.append(f'#EXT-X-KEY:METHOD={method},URI="{key}",IV=0x{IV.hex()}')
    for segment in segments:
        lines += ["#EXTINF:1.0,", segment]
    if end:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(line for line in lines if line) + "\n"


def _grab(url: str, profile: Profile, folder: Path) -> FerrymanError | None:
    """The link child's work run here, the guard as ``ferryman web`` sets it."""
    options = grab.GrabOptions(block_private=True, private_allowed=("127.0.0.1",), retries=0)
    try:
        grab.grab(
            url=url,
            token=profile.token(),
            folder=str(folder),
            options=options,
            progress=lambda _f: None,
            event=lambda _name, _value: None,
        )
    except FerrymanError as exc:
        return exc
    return None


HOPS = (
    "key inside",
    "key redirected inside",
    "key at cloud metadata",
    "segment inside",
    "segment redirected inside",
    "segment at link-local",
    "init section inside",
)
# AES-128: yt-dlp's own downloader decrypts it, each hop through the guard. SAMPLE-AES:
# yt-dlp hands the whole manifest to ffmpeg (as it does an AES-128 one without
# pycryptodomex), every hop ffmpeg's: nothing may be fetched.
METHODS = {"AES-128": "link.blocked", "SAMPLE-AES": "link.not_native"}


def _cases(public: FaultServer, inside: FaultServer) -> dict[str, tuple[str, str]]:
    """Each manifest (its path on the public site) and the code it ends with."""
    key, seg = public.url("/key"), public.url("/seg0.ts")
    public.add("/key", KEY, content_type="application/octet-stream")
    public.add("/seg0.ts", b"G" * 188 * 4, content_type="video/mp2t")
    public.redirect("/moved.ts", inside.url("/seg0.ts"))
    public.redirect("/moved-key", inside.url("/key"))
    init = f'#EXT-X-MAP:URI="{inside.url("/init.mp4")}"'
    hops = {  # the key, the segment, a line before them
        "key inside": (inside.url("/key"), seg, ""),
        "key redirected inside": (public.url("/moved-key"), seg, ""),
        "key at cloud metadata": (METADATA, seg, ""),
        "segment inside": (key, inside.url("/seg0.ts"), ""),
        "segment redirected inside": (key, public.base + "/moved.ts", ""),
        "segment at link-local": (key, LINK_LOCAL, ""),
        "init section inside": (key, seg, init),
    }
    cases = {}
    for hop, (where, segment, head) in hops.items():
        for method, code in METHODS.items():
            text = _manifest(where, method, [segment], head)
            public.add(_path(f"{method}, {hop}"), text.encode(), content_type=MPEGURL)
            cases[f"{method}, {hop}"] = (_path(f"{method}, {hop}"), code)
    live = _manifest(inside.url("/key"), segments=[seg], head="#EXT-X-MEDIA-SEQUENCE:7", end=False)
    public.add(_path("live, key inside"), live.encode(), content_type=MPEGURL)
    public.add("/dash/index.mpd", _mpd(inside.url("/init.mp4"), seg).encode(), content_type=DASH)
    return {
        **cases,
        "live, key inside": (_path("live, key inside"), "content.live"),
        "DASH init section inside": ("/dash/index.mpd", "link.blocked"),
    }


def _path(name: str) -> str:
    return "/" + name.replace(" ", "-").replace(",", "") + "/index.m3u8"


def _mpd(init: str, segment: str) -> str:
    return (
        '<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"'
        ' mediaPresentationDuration="PT1S" minBufferTime="PT1S"'
        ' profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period>'
        '<AdaptationSet mimeType="audio/mp4" codecs="mp4a.40.2">'
        '<Representation id="a" bandwidth="64000"><SegmentList duration="1" timescale="1">'
        f'<Initialization sourceURL="{init}"/><SegmentURL media="{segment}"/>'
        "</SegmentList></Representation></AdaptationSet></Period></MPD>"
    )


CASES = [
    *(f"{method}, {hop}" for hop in HOPS for method in METHODS),
    "live, key inside",
    "DASH init section inside",
]


@pytest.mark.parametrize("case", CASES)
def test_no_program_fetches_what_the_guard_refuses(
    case: str, public: FaultServer, inside: FaultServer, started: Path, tmp_path: Path
) -> None:
    path, code = _cases(public, inside)[case]
    profile = Profile(Output.M4A) if "DASH" in case else Profile(Output.VIDEO, 720)  # its sound
    failed = _grab(public.url(path), profile, tmp_path / "grab")
    assert sum(inside.served.values()) == 0, inside.served
    assert not started.exists(), started.read_text()  # no ffmpeg, no way around the guard
    assert failed is not None and failed.code == code, failed


def test_an_aes_128_stream_from_public_servers_is_decrypted_without_a_program(
    site: MediaSite, public: FaultServer, started: Path, tmp_path: Path
) -> None:
    """What ffmpeg did before is done by yt-dlp's own downloader, each hop guarded: the
    key and the segments fetched, the sound decrypted and made."""
    segments = []
    for number, data in enumerate(_sound_segments(site)):
        public.add(
            f"/locked/s{number}.ts", aes_cbc_encrypt_bytes(data, KEY, IV), content_type="video/mp2t"
        )
        segments.append(public.url(f"/locked/s{number}.ts"))
    public.add("/locked/key", KEY, content_type="application/octet-stream")
    public.add(
        "/locked/index.m3u8",
        _manifest(public.url("/locked/key"), segments=segments).encode(),
        content_type=MPEGURL,
    )
    failed = _grab(public.url("/locked/index.m3u8"), Profile(Output.M4A), tmp_path / "grab")
    assert failed is None
    (made,) = (tmp_path / "grab" / grab.OUT_DIR).iterdir()
    assert made.suffix == ".m4a" and made.stat().st_size > 10_000
    assert public.served["/locked/key"] >= 1
    assert not started.exists(), started.read_text()


async def test_a_link_job_only_ffmpeg_would_fetch_ends_failed_with_link_not_native(
    settings: Settings,
    public: FaultServer,
    inside: FaultServer,
    started: Path,
) -> None:
    """Through the engine (the link's child process), as on an exposed page: a
    SAMPLE-AES stream whose segment is inside fails, not retried, nothing fetched."""
    path, _code = _cases(public, inside)["SAMPLE-AES, segment inside"]
    network = settings.network.model_copy(
        update={"block_private": True, "private_allowed": ["127.0.0.1"]}
    )
    retry = settings.retry.model_copy(update={"base_seconds": 0.05})
    settings = settings.model_copy(update={"network": network, "retry": retry})
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(
            store, public.url(path), profile=Profile(Output.VIDEO, 720), dest="library:"
        )
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 180)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "link.not_native")
    assert sum(inside.served.values()) == 0, inside.served
