"""Camera and phone media as devices make them, to Telegram (the real Telethon client
against the fake): an HLG HEVC 10-bit MOV held upright by a 90° display matrix arrives
as a playable H.264 MP4 whose attributes are as displayed, and an ``anim.gif`` beside an
``anim.webp`` (both silent MP4s once converted) arrive under two names, not one."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image
from telethon.tl import types

from ferryman.engine.convert.step import changed
from ferryman.engine.ops import intake, report
from ferryman.model import (
    Album,
    AlbumGroup,
    AlbumState,
    Item,
    ItemState,
    MediaInfo,
    MediaKind,
    Plan,
)
from ferryman.samples import make_zip
from ferryman.telegram.outgoing import outgoing_files
from tests.media.test_media_hdr import FPS, SIZE, TAGS, graded
from tests.support.telegram_helpers import media_kind, video_attribute
from tests.telegram.test_telegram_sink import World


def hlg_phone_clip(path: Path) -> Path:
    """An HEVC 10-bit BT.2020/HLG MOV (``hvc1``) shot sideways, as a phone writes it."""
    params = "colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc:log-level=error"
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("libx265", rate=FPS, options={"x265-params": params})
        stream.codec_tag = "hvc1"
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p10le"
        stream.set_display_rotation(90)
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = 9, TAGS["hlg"], 9, 1
        picture = graded(Image.new("RGB", SIZE, (200, 120, 60)), "hlg")
        rgb = av.VideoFrame.from_image(picture).reformat(format="gbrp16le")
        for i in range(10):
            frame = rgb.reformat(
                format="yuv420p10le", dst_colorspace="bt2020", dst_color_range="MPEG"
            )
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _animations(root: Path) -> list[tuple[str, Path]]:
    frames = [Image.new("RGB", (200, 150), (i * 40, 50, 90)) for i in range(6)]
    made = []
    for name in ("anim.gif", "anim.webp"):
        frames[0].save(root / name, save_all=True, append_images=frames[1:], duration=100, loop=0)
        made.append((f"DCIM/{name}", root / name))
    return made


def _file_name(message: object) -> str:
    attrs = message.media.attributes  # type: ignore[attr-defined]
    return next(a.file_name for a in attrs if isinstance(a, types.DocumentAttributeFilename))


def _item(item_id: int, source: str, work: str) -> Item:
    return Item(item_id, 1, item_id, source, MediaKind.ANIMATION, ItemState.GROUPED, 10,
                None, work, Plan.ANIMATION, None, None, 0, 1)  # fmt: skip


def test_two_files_of_one_album_never_share_a_name() -> None:
    items = [_item(1, "a/anim.gif", "/w/1.converted.mp4"),
             _item(2, "a/anim.webp", "/w/2.converted.mp4"),
             _item(3, "a/ANIM.mkv", "/w/3.converted.mp4")]  # fmt: skip
    album = Album(1, 1, 1, AlbumGroup.VISUAL, AlbumState.SEALED, 0, items)
    names = [out.name for out in outgoing_files(album)]
    assert names == ["anim.mp4", "anim (2).mp4", "ANIM (3).mp4"]
    assert names == [out.name for out in outgoing_files(album)]  # a repeat: the same


async def test_a_sideways_hlg_phone_clip_and_two_animations_arrive_playable_and_apart(
    tmp_path: Path,
) -> None:
    w = await World.logged_in(tmp_path)
    made = tmp_path / "made"
    made.mkdir()
    entries = [("DCIM/IMG_0200.MOV", hlg_phone_clip(made / "IMG_0200.MOV")), *_animations(made)]
    store = await w.store()
    job = await intake.add_source(
        store, make_zip(tmp_path / "roll.zip", entries), dest="telegram:@dest"
    )
    await w.run(store)

    items = await store.job_items(job.id)
    assert {it.state for it in items} == {ItemState.DELIVERED}, [
        (it.source_path, it.error_message) for it in items
    ]
    sent = w.server.chat(w.channel)
    assert len(sent) == 3 and len({m.grouped_id for m in sent}) == 1  # one album, each once
    assert all(media_kind(m) == "video" for m in sent)
    by_name = {_file_name(m): m for m in sent}
    assert sorted(by_name) == ["IMG_0200.mp4", "anim (2).mp4", "anim.mp4"]
    clip = by_name["IMG_0200.mp4"]
    attr = video_attribute(clip)
    assert (attr.w, attr.h) == (SIZE[1], SIZE[0])  # as displayed: portrait
    assert attr.supports_streaming and abs(attr.duration - 10 / FPS) < 0.05
    data = clip.media.file.data
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # faststart: plays as it loads
    with av.open(io.BytesIO(data)) as played:
        video = played.streams.video[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        frame = next(played.decode(video))
        assert frame.rotation in (90, -270)  # kept: the player turns it upright
        assert video.codec_context.color_trc == 1  # BT.709: tone-mapped, not HLG
    told = {Path(i["path"]).name: i for i in (await report.report(store, job.id))["items"]}
    assert "hdr:hlg->sdr" in told["IMG_0200.MOV"]["actions"], told["IMG_0200.MOV"]
    await store.close()


def test_a_report_names_a_tone_mapping_and_nothing_for_sdr() -> None:
    hdr = MediaInfo(width=1920, height=1080, bit_depth=10, hdr="pq")
    sdr = MediaInfo(width=1920, height=1080, bit_depth=8)
    assert changed(hdr, sdr) == ["bit_depth:10->8", "hdr:pq->sdr"]
    assert changed(MediaInfo(width=1920, height=1080, bit_depth=10), sdr) == ["bit_depth:10->8"]
    assert changed(sdr, sdr) == []
