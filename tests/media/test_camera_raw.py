"""A camera's RAW files and sidecars are known for what they are (issue 79, item 4): by
their bytes where the format has a signature (TIFF-based with a camera's Make, CR2's
mark, CR3's ``crx `` brand, RAF, ORF, RW2, MRW, X3F, CRW, IIQ), a document (a file kept
as it is) and never a photo to fit nor a video; a TIFF is still a photo. And an HEVC
stream copied into an MP4 keeps Apple's ``hvc1`` tag (item 5). Real media by PyAV."""

from __future__ import annotations

import io
from fractions import Fraction
from functools import partial
from pathlib import Path

import av
import pytest
from PIL import Image

from ferryman.config import load_settings
from ferryman.engine.plumbing.media_options import MediaOptions, options_for
from ferryman.engine.read.decision import wanted
from ferryman.engine.read.prepare import prepare
from ferryman.engine.read.stage import Target, stage_entry
from ferryman.media.camera_files import is_raw
from ferryman.media.classify import classify
from ferryman.media.policy import TELEGRAM
from ferryman.media.remux import remux_to_mp4
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.rules.outcomes import skip_words
from ferryman.sinks.library_kind import LibraryKind
from ferryman.sinks.options import DeliveryOptions, split
from ferryman.sinks.telegram_kind import TelegramKind
from tests.support.camera_raw import raw_files, shared_raw_samples, sidecar_files, tiff_ifd


@pytest.mark.parametrize("name", sorted(raw_files()))
def test_every_makes_raw_is_a_file_kept_as_it_is(name: str) -> None:
    data = raw_files()[name]
    assert classify(data, name) is MediaKind.DOCUMENT
    assert is_raw(data, name)


@pytest.mark.parametrize("name", ["DSC_0103.NEF", "IMG_0101.CR2", "DSCF0108.RAF", "P0109.ORF"])
def test_a_raw_is_known_by_its_bytes_under_any_name(name: str) -> None:
    data = raw_files()[name]
    assert classify(data, "download.bin") is MediaKind.DOCUMENT
    assert is_raw(data, "download.bin")


def test_a_tiff_stays_a_photo_even_from_a_camera() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 200, 30)).save(buffer, "TIFF")
    assert classify(buffer.getvalue(), "scan.tif") is MediaKind.PHOTO
    camera_tiff = tiff_ifd("NIKON CORPORATION") + bytes(200)
    assert classify(camera_tiff, "DSC_0001.TIF") is MediaKind.PHOTO  # a camera's TIFF mode
    assert not is_raw(camera_tiff, "DSC_0001.TIF")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        *sidecar_files().items(),
        ("IMG_0001.THM", b"\xff\xd8\xff\xe0" + bytes(100)),  # a JPEG preview
        ("GH010001.LRV", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64)),
    ],
)
def test_sidecars_are_files_kept_beside_their_photo(name: str, data: bytes) -> None:
    assert classify(data, name) is MediaKind.DOCUMENT


@pytest.mark.parametrize("sample", shared_raw_samples() or [None])
def test_real_raw_samples_are_known_when_the_machine_holds_some(sample: Path | None) -> None:
    if sample is None:
        pytest.skip("no RAW sample files in shared/fixtures")
    head = sample.read_bytes()[:4096]
    assert classify(head, sample.name) is MediaKind.DOCUMENT


def hevc_clip(path: Path, fmt: str, *, tag: str | None = None, frames: int = 6) -> Path:
    """A small HEVC clip made by libx265 (``tag``: the sample entry's, as an iPhone's
    ``hvc1``); skipped where the wheel has no HEVC encoder."""
    if "libx265" not in av.codecs_available:
        pytest.skip("PyAV's FFmpeg has no HEVC encoder (libx265)")
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream("libx265", rate=24, options={"x265-params": "log-level=error"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        if tag:
            stream.codec_context.codec_tag = tag
        for n in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", (64, 48), (n * 40, 90, 160)))
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = n, Fraction(1, 24)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def video_tag(path: Path) -> tuple[str, str]:
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return context.codec.canonical_name, context.codec_tag


@pytest.mark.parametrize(
    ("suffix", "fmt", "tag"), [("MOV", "mov", "hvc1"), ("mkv", "matroska", None)]
)
def test_a_remuxed_hevc_stream_keeps_apples_hvc1_tag(
    tmp_path: Path, suffix: str, fmt: str, tag: str | None
) -> None:
    source = hevc_clip(tmp_path / f"IMG_0001.{suffix}", fmt, tag=tag)
    if tag:
        assert video_tag(source) == ("hevc", "hvc1")
    out = tmp_path / "IMG_0001.mp4"
    remux_to_mp4(source, out)
    assert video_tag(out) == ("hevc", "hvc1")  # FFmpeg's default would be hev1


@pytest.mark.parametrize("send_documents", [False, True])
def test_to_telegram_a_raw_goes_as_a_file_only_when_asked(
    tmp_path: Path, send_documents: bool
) -> None:
    """Telegram's policy: a RAW is a document with ``send_documents``; without, it is
    left out by choice and its skip says it was a RAW (``camera_raw``), not "not media"."""
    options = MediaOptions(TELEGRAM)
    assert not options.every_file
    target = Target(
        tmp_path / "000001-DSC_0103.NEF", partial(wanted, send_documents=send_documents)
    )
    data = raw_files()["DSC_0103.NEF"]
    staged = stage_entry(iter([data]), "DCIM/DSC_0103.NEF", target)
    done = prepare(staged, send_documents, options)
    if send_documents:
        assert (done.state, done.plan, done.kind) == (
            ItemState.READY,
            Plan.DOCUMENT,
            MediaKind.DOCUMENT,
        )
        assert done.work_path is not None and done.work_path.read_bytes() == data
    else:
        assert (done.state, done.reason, staged.path) == (ItemState.SKIPPED, "camera_raw", None)
        assert skip_words(done.reason).startswith("a camera's RAW file")


def test_a_library_keeps_every_file_unless_media_alone_is_asked() -> None:
    settings = load_settings(None, {"library_media_only": False})
    library, telegram = LibraryKind(), TelegramKind()
    assert options_for(settings, library).every_file
    assert not options_for(settings, library, DeliveryOptions(media_only=True)).every_file
    assert not options_for(settings, telegram).every_file
    alone = load_settings(None, {"library_media_only": True})
    assert not options_for(alone, library).every_file
    assert split("library:/srv/lib?media=only")[1].media_only
