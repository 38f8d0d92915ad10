"""What a link is, asked of a real server on loopback: by Content-Type, then by bytes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
from PIL import Image

from ferryman.config import NetworkSettings
from ferryman.errors import FerrymanError
from ferryman.net.http import make_client
from ferryman.net.kinds import LinkKind, kind_of
from ferryman.net.probe import LinkFacts, probe
from tests.support.httpserve import Faults, FaultServer, serving


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving() as started:
        yield started


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", b"\xff\xd8\xff" + bytes(10_000))
    return buffer.getvalue()


def an_animated_gif() -> bytes:
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "blue", "green")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


async def ask(url: str) -> LinkFacts:
    settings = NetworkSettings(stall_seconds=5)  # type: ignore[call-arg]
    async with make_client(settings) as client:
        return await probe(client, url, network=settings)


def methods(server: FaultServer, path: str) -> list[tuple[str, int, str | None]]:
    return [(r.method, r.status, r.headers.get("Range")) for r in server.requests_for(path)]


async def test_a_decisive_type_needs_only_a_head(server: FaultServer) -> None:
    data = a_zip()
    resource = server.add("/x.bin", data, content_type="application/zip")
    facts = await ask(server.url("/x.bin"))
    assert facts.kind is LinkKind.ARCHIVE
    assert (facts.size, facts.accepts_ranges, facts.etag) == (len(data), True, resource.etag)
    assert facts.last_modified == resource.last_modified
    assert methods(server, "/x.bin") == [("HEAD", 200, None)]


async def test_a_generic_type_is_decided_by_the_bytes(server: FaultServer) -> None:
    data = a_zip()
    server.add("/get", data, content_type="application/octet-stream")
    facts = await ask(server.url("/get") + "?id=3")
    assert facts.kind is LinkKind.ARCHIVE
    assert facts.head == data[:4096]
    assert methods(server, "/get") == [("HEAD", 200, None), ("GET", 206, "bytes=0-4095")]


async def test_the_extension_decides_nothing(server: FaultServer) -> None:
    page = b"<!DOCTYPE html><html><body>Log in to download</body></html>"
    server.add("/movie.mp4", page, content_type="text/html; charset=utf-8")
    server.add("/clip.mp4", page, content_type="application/octet-stream")
    server.add("/archive.zip", b"\xff\xd8\xff\xe0" + bytes(5000), content_type=None)
    assert (await ask(server.url("/movie.mp4"))).kind is LinkKind.PAGE
    assert (await ask(server.url("/clip.mp4"))).kind is LinkKind.PAGE
    assert (await ask(server.url("/archive.zip"))).kind is LinkKind.PHOTO


async def test_media_types_are_refined_by_the_bytes(server: FaultServer) -> None:
    server.add("/a.gif", an_animated_gif(), content_type="image/gif")
    server.add("/still", b"\x89PNG\r\n\x1a\n" + bytes(100), content_type="image/png")
    assert (await ask(server.url("/a.gif"))).kind is LinkKind.ANIMATION
    assert (await ask(server.url("/still"))).kind is LinkKind.PHOTO


async def test_a_refused_head_falls_back_to_a_ranged_get(server: FaultServer) -> None:
    data = a_zip()
    server.add(
        "/signed",
        data,
        content_type="application/zip",
        disposition="attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.zip",
        faults=Faults(refuse_head=True),
    )
    facts = await ask(server.url("/signed"))
    assert (facts.size, facts.accepts_ranges, facts.kind) == (len(data), True, LinkKind.ARCHIVE)
    assert facts.name == "r\u00e9sum\u00e9.zip"
    assert methods(server, "/signed") == [("HEAD", 405, None), ("GET", 206, "bytes=0-4095")]


async def test_a_head_that_says_page_is_checked_by_a_get(server: FaultServer) -> None:
    """Some servers answer HEAD with their HTML default while GET sends the file: a
    page is believed only from the GET (the file was sent to the link converter)."""
    data = a_zip()
    server.add(
        "/download.php",
        data,
        content_type="application/zip",
        disposition='attachment; filename="trip.zip"',
        faults=Faults(head_says_page=True),
    )
    facts = await ask(server.url("/download.php") + "?id=7")
    assert (facts.kind, facts.size, facts.accepts_ranges) == (LinkKind.ARCHIVE, len(data), True)
    assert (facts.name, facts.content_type) == ("trip.zip", "application/zip")
    assert methods(server, "/download.php") == [("HEAD", 200, None), ("GET", 206, "bytes=0-4095")]
    page = b"<!DOCTYPE html><html><body>a video page</body></html>"
    server.add("/watch", page, content_type="text/html")
    assert (await ask(server.url("/watch"))).kind is LinkKind.PAGE


async def test_a_server_without_ranges_is_found_out(server: FaultServer) -> None:
    data = bytes(1_000_000)
    server.add("/flat", data, accept_ranges=False)
    facts = await ask(server.url("/flat"))
    assert facts.accepts_ranges is False
    assert facts.size == len(data)
    assert methods(server, "/flat") == [("HEAD", 200, None), ("GET", 200, "bytes=0-4095")]


async def test_redirects_are_followed_for_the_name(server: FaultServer) -> None:
    server.add("/store/holiday pics.7z", b"7z\xbc\xaf\x27\x1c" + bytes(100), content_type=None)
    server.redirect("/s/abc", "/store/holiday%20pics.7z")
    facts = await ask(server.url("/s/abc"))
    assert facts.final_url.endswith("/store/holiday%20pics.7z")
    assert (facts.name, facts.kind) == ("holiday pics.7z", LinkKind.ARCHIVE)


async def test_a_missing_link_is_not_found(server: FaultServer) -> None:
    with pytest.raises(FerrymanError) as caught:
        await ask(server.url("/nothing"))
    assert caught.value.code == "source.not_found"


def test_kind_without_bytes_follows_the_type() -> None:
    assert kind_of("video/mp4") is LinkKind.VIDEO
    assert kind_of("application/x-rar-compressed") is LinkKind.ARCHIVE
    assert kind_of("application/octet-stream") is LinkKind.OTHER
    assert kind_of(None, b"\x1f\x8b\x08\x00") is LinkKind.ARCHIVE
