"""A Telegram message as a job's source when its file is kept on another data centre, or
sent to the CDN: the chunks go to the DC that keeps it (logged in there once, the
connections kept for the next files) or to the CDN, each part checked; nothing wrong
reaches the partial file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from faketg.dcs import CDN_PART, corrupt_cdn_part, move_media, put_on_cdn
from faketg.people import channel_posts, stored_document
from ferryman.telegram.download import CHUNK
from tests.telegram.test_telegram_links import SOURCE, World, world_at


def _post(w: World, data: bytes, name: str) -> tuple[int, int]:
    """A message with ``data`` as a document; its id and the document's."""
    media = stored_document(w.server, w.poster, data, name, "application/octet-stream")
    [message] = channel_posts(w.server, w.poster, w.private, [("", media)])
    return message.id, media.id


async def test_a_messages_file_on_another_dc_is_fetched_whole_there(tmp_path: Path) -> None:
    async with world_at(tmp_path) as w:
        files = [hashlib.sha256(bytes([n])).digest() * (5 * CHUNK // 32) + b"end" for n in (1, 2)]
        posted = [_post(w, data, f"{n}.bin") for n, data in enumerate(files)]
        for _message, media_id in posted:
            move_media(w.server.media[media_id], 4)  # its uploader lives on DC 4
        for n, ((message, _media_id), data) in enumerate(zip(posted, files, strict=True)):
            got = await SOURCE.fetch(f"tg:c/{w.private.id}/{message}", w.plan(tmp_path / str(n)))
            assert hashlib.sha256(got.path.read_bytes()).digest() == hashlib.sha256(data).digest()
        asked = w.server.stats.requests
        assert asked["ExportAuthorizationRequest"] == 1  # logged in on DC 4 once, for both
        assert asked["ImportAuthorizationRequest"] == 1
        on_dc4 = [s for s in w.server.senders.values() if s.dc_id == 4]
        assert on_dc4 and {w.server.account_of(s).id for s in on_dc4} == {w.me.id}  # type: ignore[union-attr]
        assert len({s.auth_key.key_id for s in on_dc4}) == 1  # the others share its key


async def test_a_cdn_part_sent_wrong_never_reaches_the_file(tmp_path: Path) -> None:
    async with world_at(tmp_path) as w:
        data = hashlib.sha256(b"cdn").digest() * (3 * CHUNK // 32) + b"tail"
        message, media_id = _post(w, data, "cdn.bin")
        media = w.server.media[media_id]
        put_on_cdn(w.server, media, reupload_needed=True)
        corrupt_cdn_part(w.server, media, CHUNK + 2 * CDN_PART, times=3)
        got = await SOURCE.fetch(f"tg:c/{w.private.id}/{message}", w.plan(tmp_path / "fetch"))
        assert hashlib.sha256(got.path.read_bytes()).digest() == hashlib.sha256(data).digest()
        assert w.server.dcs.corrupted >= 1 and w.server.dcs.reuploads >= 1
        assert w.server.stats.requests["GetCdnFileRequest"] >= 4
