"""Memory per picture is counted in bytes: width x height x channels x bytes per sample,
from the header, before anything is decoded (``media.budget``). A 16-bit RGBA PNG of
149 MP (1.2 MB on disk, written at test time) peaked at 1.9 GB fitted for Telegram; now
it is never decoded and goes as a document. A JPEG is decoded reduced (draft mode) when
the fit shrinks it anyway; a PNG cannot be, so one over the budget is refused.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ferryman.config import Settings, load_settings
from ferryman.engine.ops import intake
from ferryman.engine.read.prepare import MediaOptions, prepare
from ferryman.engine.read.stage import Staged
from ferryman.errors import FerrymanError
from ferryman.media.budget import DEFAULT_MAX_IMAGE_BYTES, decoded_bytes
from ferryman.media.images import fit_photo
from ferryman.media.policy import TELEGRAM, PhotoLimits
from ferryman.media.preview import make_preview
from ferryman.media.probe import probe_image
from ferryman.model import ItemState, MediaKind, Plan
from ferryman.samples import make_photo
from ferryman.store import Store
from tests.support.engine_helpers import library_files, run_until_idle
from tests.support.image_corpus import (
    SIZE,
    animated,
    deep_png,
    gif_last_frame_at,
    ppm16,
    raw_tiff_rgb16,
)

SIDE = 12_200  # 148.8 MP: under media.max_image_pixels (150 MP), 1.19 GB as 16-bit RGBA
MiB = 1024 * 1024
HWM = """
def hwm():  # VmHWM, this process's own: ru_maxrss keeps the parent's peak across exec
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))
"""


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return deep_png(tmp_path_factory.mktemp("deep") / "deep.png", SIDE, SIDE)


def test_the_cost_counts_channels_and_bit_depth(tmp_path: Path) -> None:
    cases = {
        "rgba16.png": ((300, 200), 16, 4, 300 * 200 * 4 * 2),
        "rgb16.png": ((300, 200), 16, 3, 300 * 200 * 3 * 2),
        "rgba8.png": ((300, 200), 8, 4, 300 * 200 * 4),
        "grey16.png": ((300, 200), 16, 1, 300 * 200 * 2),
        "grey8.png": ((300, 200), 8, 1, 300 * 200),
    }
    for name, ((width, height), depth, samples, expected) in cases.items():
        path = deep_png(tmp_path / name, width, height, depth=depth, samples=samples)
        with Image.open(path) as image:
            assert decoded_bytes(image) == expected, name
    with Image.open(io.BytesIO(raw_tiff_rgb16())) as image:
        assert decoded_bytes(image) == SIZE[0] * SIZE[1] * 3 * 2
    with Image.open(io.BytesIO(ppm16())) as image:
        assert decoded_bytes(image) == SIZE[0] * SIZE[1] * 3 * 2
    with Image.open(deep_png(tmp_path / "x.png", 10, 10)) as image:
        image.load()  # the writer's PNG is whole and decodes
        assert image.mode == "RGBA" and image.getpixel((1, 9))[3] == 192  # 3/4 of 65535, to 8 bits


def test_the_setting_defaults_to_the_budget_the_docs_state() -> None:
    settings = load_settings(None, {})
    assert int(settings.media.max_image_bytes) == DEFAULT_MAX_IMAGE_BYTES == 256 * MiB
    assert MediaOptions(TELEGRAM).max_image_bytes == DEFAULT_MAX_IMAGE_BYTES


def _prepare_in_child(path: Path) -> dict[str, object]:
    """The engine's preparation of ``path`` under Telegram's policy in a fresh process:
    what it made of it and the process's peak RSS (the kernel's high-water mark)."""
    code = (
        HWM
        + f"""
import json
from pathlib import Path
from ferryman.engine.read.prepare import MediaOptions, prepare
from ferryman.engine.read.stage import Staged
from ferryman.media.policy import TELEGRAM
from ferryman.model import MediaKind
path = Path({str(path)!r})
staged = Staged(path, path.stat().st_size, "x", MediaKind.PHOTO)
done = prepare(staged, False, MediaOptions(TELEGRAM))
print(json.dumps({{"plan": done.plan.value, "state": done.state.value, "reason": done.reason,
    "peak": hwm()}}))
"""
    )
    ran = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    result: dict[str, object] = json.loads(ran.stdout.splitlines()[-1])
    return result


def test_a_149_mp_16_bit_rgba_png_is_never_decoded_and_goes_as_a_document(
    deep: Path, tmp_path: Path
) -> None:
    staged = tmp_path / "deep.png"
    staged.write_bytes(deep.read_bytes())
    assert staged.stat().st_size < 2 * MiB
    done = _prepare_in_child(staged)
    assert (done["plan"], done["state"]) == ("document", "ready"), done
    assert str(done["reason"]).startswith("media.over_budget: "), done
    assert f"{SIDE}x{SIDE}, 4 channels of 16 bits is {SIDE * SIDE * 8} bytes" in str(done["reason"])
    peak = done["peak"]
    assert isinstance(peak, int) and peak < DEFAULT_MAX_IMAGE_BYTES, peak / MiB


def test_the_probe_never_decodes_over_the_budget(tmp_path: Path) -> None:
    """A TIFF is decoded whole to check its data: not when that is over the budget."""
    path = tmp_path / "deep.tif"
    Image.new("RGB", (2000, 1500), (10, 20, 30)).save(path)
    assert probe_image(path, max_bytes=16 * MiB).width == 2000
    with pytest.raises(FerrymanError) as caught:
        probe_image(path, max_bytes=8 * MiB)
    assert caught.value.code == "media.over_budget"
    assert "2000x1500, 3 channels of 8 bits is 9000000 bytes" in caught.value.message


def test_a_jpeg_is_decoded_reduced_where_a_png_of_its_size_is_refused(tmp_path: Path) -> None:
    """4000x3000 RGB is 36 MB decoded: over a 16 MiB budget. The fit wants 2000 px of
    sides at most, so the JPEG decodes at 1/2 (9 MB) and fits; the PNG cannot."""
    limits = PhotoLimits(max_side_sum=2000, max_bytes=None, max_aspect=20.0)
    jpeg, png = tmp_path / "big.jpg", tmp_path / "big.png"
    picture = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    picture.save(jpeg, quality=90)
    picture.save(png, compress_level=1)
    made = fit_photo(jpeg, tmp_path / "out.jpg", limits, max_bytes=16 * MiB)
    assert made.width + made.height <= 2000 and made.width > made.height
    assert "fit_sides" in made.actions
    with pytest.raises(FerrymanError) as caught:
        fit_photo(png, tmp_path / "out2.jpg", limits, max_bytes=16 * MiB)
    assert caught.value.code == "media.over_budget"
    assert not (tmp_path / "out2.jpg").exists()


def test_no_preview_decodes_a_picture_over_the_budget(deep: Path) -> None:
    assert make_preview(deep, MediaKind.PHOTO) is None


def _settings(tmp_path: Path) -> Settings:
    return load_settings(
        None,
        {
            "data_dir": tmp_path / "data",
            "poll_seconds": 0.05,
            "space_floor": 0,
            "media": {"policy": "telegram"},
        },
    )


def _folder(folder: Path, deep: Path) -> Path:
    folder.mkdir()
    (folder / "deep.png").write_bytes(deep.read_bytes())
    make_photo(folder / "photo.jpg", 1, size=(64, 48))
    return folder


async def test_the_engine_sends_it_as_a_document_beside_the_photos(
    deep: Path, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    folder = _folder(tmp_path / "in", deep)
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, folder)
        await run_until_idle(store, settings, limit=60)
        items = {it.source_path: it for it in await store.job_items(job.id)}
    finally:
        await store.close()
    deep_item = items["deep.png"]
    assert (deep_item.state, deep_item.plan) == (ItemState.DELIVERED, Plan.DOCUMENT)
    assert (deep_item.reason or "").startswith("media.over_budget: ")
    assert items["photo.jpg"].state is ItemState.DELIVERED
    sent = {f["source_path"]: f for f in library_files(settings.library)}
    assert sent["deep.png"]["disk_sha256"] == deep_item.sha256  # unchanged


def test_prepare_says_over_budget_in_process_too(deep: Path, tmp_path: Path) -> None:
    staged = tmp_path / "deep.png"
    staged.write_bytes(deep.read_bytes())
    done = prepare(
        Staged(staged, staged.stat().st_size, "x", MediaKind.PHOTO),
        False,
        MediaOptions(TELEGRAM, max_image_bytes=64 * MiB),
    )
    assert (done.state, done.plan) == (ItemState.READY, Plan.DOCUMENT)
    assert (done.reason or "").startswith("media.over_budget")


def test_an_animation_whose_canvas_is_over_the_budget_goes_as_a_document(
    tmp_path: Path,
) -> None:
    """Its last frame lies at (8500, 8500): 74 MP, under the pixel limit, but 294 MB of
    RGBA frames to compose; it was converted (in a child) before."""
    path = tmp_path / "far.gif"
    path.write_bytes(gif_last_frame_at(animated("GIF", count=3), 8500, 8500))
    done = prepare(
        Staged(path, path.stat().st_size, "x", MediaKind.ANIMATION), False, MediaOptions(TELEGRAM)
    )
    assert (done.state, done.plan) == (ItemState.READY, Plan.DOCUMENT), done.reason
    assert (done.reason or "").startswith("media.over_budget: a "), done.reason
