"""Names people would choose, through the whole engine (issue 35, point 8): a page's
video and its 720p mute version, a second page of the same title, an HLS stream, an
archive with one top folder, into the library, the link sink (and its job zip) and
Telegram. Real pages and HLS served on loopback (``tests/support/mediaserve.py``), yt-dlp
extracting, PyAV making, real zips from zipfile and bsdtar, the fake Telegram with the
real client. The rules alone: tests/unit/test_naming.py."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from PIL import Image
from telethon.tl import types

from ferryman.config import Settings
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.links.profile import Output, Profile
from ferryman.model import JobState, Plan
from ferryman.samples import make_photo_set
from ferryman.store import Store
from ferryman.web.results import LocalResults
from tests.support.httpserve import FaultServer, serving
from tests.support.mediaserve import TYPES, MediaSite
from tests.support.once import built_once
from tests.support.telegram_helpers import media_kind
from tests.telegram.test_telegram_sink import World

pytestmark = pytest.mark.slow

TITLE = "Sunset over the bay"


def _page(title: str, video: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f'<video controls src="{video}"></video></body></html>'
    ).encode()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> MediaSite:
    return built_once(tmp_path_factory, "media-site", MediaSite.make)  # one per run


@pytest.fixture
def server(site: MediaSite) -> Iterator[FaultServer]:
    with serving() as started:
        site.serve(started)
        html = TYPES[".html"]
        started.add("/sunset.html", _page(TITLE, "/clip.mp4"), content_type=html)
        started.add("/elsewhere.html", _page(TITLE, "/clip2.mp4"), content_type=html)
        # An HLS stream whose manifest is called "stream", in a folder that says more.
        for path in sorted((site.root / "muxed").rglob("*")):
            if path.is_file():
                name = "stream.m3u8" if path.name == "master.m3u8" else path.name
                web = f"/sunset-over-the-bay/{path.relative_to(site.root / 'muxed').parent}"
                started.add(
                    f"{web.removesuffix('/.')}/{name}",
                    path.read_bytes(),
                    content_type=TYPES.get(path.suffix),
                )
        yield started


async def _add_and_run(
    settings: Settings,
    url: str | Path,
    profile: Profile | None = None,
    dest: str = "library:",
    engine: Engine | None = None,
) -> str:
    """Add one input, run until idle; the job's name once it is done."""
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, url, profile=profile, dest=dest, force=True)
        await asyncio.wait_for(Engine(store, settings).run(until_idle=True), 180)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert done.state is JobState.DONE, (done.error_code, done.error_message)
    return done.name


def _library(settings: Settings) -> dict[str, str]:
    """Each delivered file (its path under the library) → its album's caption."""
    found = {}
    for manifest in sorted(settings.library.rglob("manifest.json")):
        caption = json.loads(manifest.read_text())["caption"]
        for path in sorted(manifest.parent.iterdir()):
            if path.name != "manifest.json":
                found[path.relative_to(settings.library).as_posix()] = caption
    return found


async def test_a_video_its_mute_720p_and_another_page_of_its_title_are_named_once(
    settings: Settings, server: FaultServer
) -> None:
    """Were: `Sunset over the bay (1)/…/Sunset over the bay (1) [sunset-1].mp4` twice
    (the 720p mute under the same file name) and `Sunset over the bay (1) (2)`."""
    page, other = server.url("/sunset.html"), server.url("/elsewhere.html")
    names = [
        await _add_and_run(settings, page),
        await _add_and_run(settings, page, Profile(Output.MUTE, 720)),
        await _add_and_run(settings, other),
    ]
    assert names == [TITLE, f"{TITLE} (720p, mute)", f"{TITLE} (2)"]
    delivered = _library(settings)
    assert sorted(delivered) == sorted(f"{name}/0001/{name}.mp4" for name in names)
    for path, caption in delivered.items():
        assert caption.startswith(path.split("/")[0])  # the caption is the job's name
    with av.open(str(settings.library / TITLE / "0001" / f"{TITLE}.mp4")) as made:
        assert made.metadata.get("title") == TITLE  # the tag too, without "(1)"


async def test_a_stream_is_named_after_its_address_not_its_manifest(
    settings: Settings, server: FaultServer
) -> None:
    """Was `stream/0001/stream.mp4`."""
    name = await _add_and_run(settings, server.url("/sunset-over-the-bay/stream.m3u8"))
    assert name == "sunset-over-the-bay"
    assert list(_library(settings)) == ["sunset-over-the-bay/0001/sunset-over-the-bay.mp4"]


def _holiday(tmp_path: Path) -> dict[str, Path]:
    photos = make_photo_set(tmp_path / "photos", 3)
    return {
        "Holiday 2024/beach.jpg": photos[0],
        "Holiday 2024/day 2/pier.jpg": photos[1],
        "Holiday 2024/day 2/boat.jpg": photos[2],
    }


def _zip_of(path: Path, members: dict[str, Path]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, source in members.items():
            archive.write(source, name)
    return path


def _bsdtar_zip(path: Path, members: dict[str, Path]) -> Path:
    """The same tree, zipped by bsdtar from a real folder (its own folder entries)."""
    tree = path.with_suffix(".tree")
    for name, source in members.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, tree / name)
    subprocess.run(["bsdtar", "-a", "-cf", str(path), "-C", str(tree), "Holiday 2024"], check=True)
    return path


def _job_zip(settings: Settings, job_name: str) -> list[str]:
    """The members of the job's zip as the web's `/d/` link sends it."""
    results = LocalResults(settings.results_dir)
    folders = sorted(settings.results_dir.iterdir())
    assert len(folders) == 1, folders
    job_id = int(folders[0].name.removeprefix("job-"))
    stream = b"".join(results.zip_stream(job_id, results.files_now(job_id)))
    with zipfile.ZipFile(io.BytesIO(stream)) as archive:
        return archive.namelist()


@pytest.mark.skipif(shutil.which("bsdtar") is None, reason="bsdtar is not installed")
@pytest.mark.parametrize("maker", [_zip_of, _bsdtar_zip], ids=["zipfile", "bsdtar"])
async def test_an_archives_top_folder_names_its_job_and_its_zip_keeps_the_folders(
    settings: Settings, tmp_path: Path, maker: object
) -> None:
    """Was: the job `album`, its files at the root of the job's zip."""
    members = _holiday(tmp_path)
    archive = maker(tmp_path / "album.zip", members)  # type: ignore[operator]
    assert await _add_and_run(settings, archive, dest="link:") == "Holiday 2024"
    assert sorted(_job_zip(settings, "Holiday 2024")) == sorted(members)
    assert await _add_and_run(settings, archive) == "Holiday 2024"  # the library alike
    assert sorted(_library(settings)) == [
        f"Holiday 2024/0001/{name}" for name in ("beach.jpg", "boat.jpg", "pier.jpg")
    ]


async def test_a_zip_larger_than_an_album_is_named_from_its_whole_listing(
    settings: Settings, tmp_path: Path
) -> None:
    """The first album is sealed before the last entry is read: the zip's central
    directory says every entry lies in `Holiday 2024/`; a zip whose last entry lies
    elsewhere keeps its file's name although its first album's entries all lie there."""
    photos = make_photo_set(tmp_path / "photos", 13)
    members = {f"Holiday 2024/{p.name}": p for p in photos}
    archive = _zip_of(tmp_path / "album.zip", members)
    assert await _add_and_run(settings, archive) == "Holiday 2024"
    assert len({Path(p).parent for p in _library(settings)}) == 2  # two albums, one folder
    mixed = dict(list(members.items())[:12]) | {"notes/last.jpg": photos[12]}
    other = _zip_of(tmp_path / "other.zip", mixed)
    assert await _add_and_run(settings, other) == "other"


async def test_a_zip_named_from_its_listing_reads_its_names_as_its_entries_are_read(
    settings: Settings, tmp_path: Path
) -> None:
    """Was: `Caf├⌐ 2024`, its files under `Café 2024/`: a zip from macOS's Archive
    Utility stores UTF-8 names without the UTF-8 flag, which the entries' reader decodes
    as UTF-8 (``stored_names``) but the listing that names the job early read as cp437."""
    photos = make_photo_set(tmp_path / "photos", 13)
    archive = _zip_of(tmp_path / "album.zip", {f"Café 2024/{p.name}": p for p in photos})
    data = bytearray(archive.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + flags_at + 1] &= ~0x08  # bit 11 (UTF-8) of the flags, cleared
            at = data.find(signature, at + 4)
    archive.write_bytes(bytes(data))
    assert not any(m.flag_bits & 0x800 for m in zipfile.ZipFile(archive).infolist())
    assert await _add_and_run(settings, archive) == "Café 2024"
    assert {Path(p).parts[0] for p in _library(settings)} == {"Café 2024"}


async def test_an_archive_of_two_folders_keeps_its_name_and_both_folders(
    settings: Settings, tmp_path: Path
) -> None:
    photos = make_photo_set(tmp_path / "photos", 2)
    members = {"Holiday 2024/a.jpg": photos[0], "Work/b.jpg": photos[1]}
    archive = _zip_of(tmp_path / "album.zip", members)
    assert await _add_and_run(settings, archive, dest="link:") == "album"
    assert sorted(_job_zip(settings, "album")) == sorted(members)


def _file_name(message: types.Message) -> str:
    for attribute in message.media.attributes:
        if isinstance(attribute, types.DocumentAttributeFilename):
            return str(attribute.file_name)
    return str(message.media.file.name)


async def test_telegram_gets_the_same_names_in_captions_and_files(
    tmp_path: Path, server: FaultServer
) -> None:
    world = await World.logged_in(tmp_path)
    page = server.url("/sunset.html")
    mute = Profile(Output.MUTE, 720)
    dest = "telegram:@dest"
    store = await world.store()
    try:
        for profile in (None, mute):
            await intake.add_source(store, page, profile=profile, dest=dest)
            await world.run(store)
        members = _holiday(tmp_path)
        await intake.add_source(store, _zip_of(tmp_path / "album.zip", members), dest=dest)
        await world.run(store)
        names = [job.name for job in await store.list_jobs()]
    finally:
        await store.close()
    assert names == [TITLE, f"{TITLE} (720p, mute)", "Holiday 2024"]
    albums = world.server.albums(world.channel)
    captions = [album[0].text for album in albums]
    assert [c.split(" — ")[0] for c in captions] == names
    videos = [_file_name(album[0]) for album in albums[:2]]
    assert videos == [f"{TITLE}.mp4", f"{TITLE} (720p, mute).mp4"]


async def test_a_picture_named_as_another_format_is_delivered_with_its_own_suffix(
    settings: Settings, tmp_path: Path
) -> None:
    """Was: a PNG named `x.jpg` kept as it is arrived as `x.jpg`, which a gallery
    then fails to open as the JPEG it claims to be; a converted one keeps the
    suffix of what it became."""
    folder = tmp_path / "mislabelled"
    folder.mkdir()
    Image.new("RGB", (64, 48), "teal").save(folder / "x.jpg", "PNG")
    Image.new("RGB", (64, 48), "navy").save(folder / "y.png", "WEBP")  # library: to JPEG
    assert await _add_and_run(settings, folder) == "mislabelled"
    delivered = sorted(Path(p).name for p in _library(settings))
    assert delivered == ["x.png", "y.jpg"]
    with Image.open(next(settings.library.rglob("x.png"))) as kept:
        assert kept.format == "PNG"


async def test_every_page_of_a_scanned_tiff_arrives_as_its_own_photo(
    settings: Settings, tmp_path: Path
) -> None:
    """Was: a 3-page TIFF of pages of one size (a scan, a fax) became a 0.3-second MP4
    "animation"; a TIFF has no frame durations, so each page is a photo."""
    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
    pages = [Image.new("RGB", (320, 240), colour) for colour in colours]
    scan = tmp_path / "scan.tif"
    pages[0].save(scan, save_all=True, append_images=pages[1:])
    assert await _add_and_run(settings, scan) == "scan"
    delivered = sorted(_library(settings))
    assert delivered == [f"scan/0001/scan (page {n}).jpg" for n in (1, 2, 3)]
    for path, colour in zip(delivered, colours, strict=True):
        with Image.open(settings.library / path) as page:
            assert page.format == "JPEG"
            assert page.size == (320, 240)
            pixel = page.convert("RGB").getpixel((160, 120))
            assert isinstance(pixel, tuple)
            assert all(abs(a - b) < 16 for a, b in zip(pixel, colour, strict=True))


async def test_a_tiff_of_more_pages_than_the_cap_arrives_as_one_document(
    settings: Settings, tmp_path: Path
) -> None:
    """Was: no cap, so a 10,000-page TIFF would have made 10,000 photos (a thousand
    albums). Over ``media.max_pages`` it goes as it is, one file, and the report says why."""
    settings = settings.model_copy(
        update={"media": settings.media.model_copy(update={"max_pages": 3})}
    )
    pages = [Image.new("RGB", (160, 120), (40 * n, 0, 0)) for n in range(4)]
    scan = tmp_path / "book.tif"
    pages[0].save(scan, save_all=True, append_images=pages[1:])
    assert await _add_and_run(settings, scan) == "book"
    assert sorted(_library(settings)) == ["book/0001/book.tif"]
    store = await Store.open(settings.database)
    try:
        (item,) = await store.job_items((await store.list_jobs())[0].id)
    finally:
        await store.close()
    assert (item.plan, item.reason) == (Plan.DOCUMENT, "pages=4>3")


async def test_telegram_gets_every_page_of_a_scan_as_a_photo(tmp_path: Path) -> None:
    pages = [Image.new("RGB", (320, 240), colour) for colour in ("red", "green", "blue")]
    scan = tmp_path / "scan.tif"
    pages[0].save(scan, save_all=True, append_images=pages[1:])
    world = await World.logged_in(tmp_path)
    store = await world.store()
    try:
        await intake.add_source(store, scan, dest="telegram:@dest")
        await world.run(store)
    finally:
        await store.close()
    albums = world.server.albums(world.channel)
    assert [len(album) for album in albums] == [3]  # was one MP4
    assert [media_kind(m) for m in albums[0]] == ["photo"] * 3
