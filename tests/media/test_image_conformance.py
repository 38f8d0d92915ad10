"""Every picture Pillow decodes arrives, and every photo meets Telegram's photo rules.

The corpus (``tests/support/image_corpus.py``) is made here by Pillow and pillow-heif, with the
damage real files carry; the oracle is Pillow decoding every frame. The engine test
sends the whole corpus through the real engine under ``media.policy = "telegram"``
and judges what reached the library; the fast tests pin the pieces (classification by
content, the GIF canvas, the probe's MPO and orientation readings, the photo fitter).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from ferryman.errors import ERRORS
from ferryman.media.classify import HEAD_SIZE, classify
from ferryman.media.images import check_pixels, fit_photo, gif_canvas
from ferryman.media.plan import explain
from ferryman.media.policy import TELEGRAM
from ferryman.media.probe import probe, probe_image
from ferryman.model import MediaKind, Plan
from tests.support.image_corpus import (
    Corpus,
    Sample,
    exif,
    picture,
    run_engine,
    samples,
    save,
    telegram_photo_problems,
)
from tests.support.once import built_once


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """Written and judged once per run (read-only here: a test that changes a file copies
    it first)."""
    return built_once(tmp_path_factory, "image-corpus", Corpus.make)


def _samples() -> dict[str, Sample]:
    return {sample.name: sample for sample in samples()}


def test_the_corpus_holds_what_pillow_decodes_and_what_it_cannot(
    corpus: Corpus,
) -> None:
    written, verdicts = _samples(), corpus.decodes
    assert sorted(p.name for p in corpus.folder.iterdir()) == sorted(verdicts) == sorted(written)
    assert len(written) >= 100
    # Every truncated file and every bomb past Pillow's hard limit fails the oracle...
    failing = {name for name, ok in verdicts.items() if not ok}
    assert {n for n in written if "truncated" in n} <= failing
    assert {"bomb_30000.png", "extent_bomb.gif", "anim_extent_bomb.gif"} <= failing
    # ...and the odd ones the issue names are decoded by Pillow itself.
    for name in ("anim.png", "bad_ifd_offset.jpg", "no_palette.gif", "extent_over_limit.gif"):
        assert verdicts[name], name


def test_every_corpus_picture_is_classified_a_picture_by_its_bytes(
    corpus: Corpus,
) -> None:
    folder, written = corpus.folder, _samples()
    for name in written:
        head = (folder / name).read_bytes()[:HEAD_SIZE]
        kind = classify(head, name)
        assert kind in (MediaKind.PHOTO, MediaKind.ANIMATION), (name, kind)
        if not name.endswith((".tga", ".pcx")):
            # content alone: the same bytes under a meaningless name
            assert classify(head, "upload.bin") is kind, name


@pytest.mark.parametrize(
    ("head", "name", "kind"),
    [
        (b"P1 meeting notes for Tuesday\n", "notes.txt", MediaKind.DOCUMENT),
        (b"P6 is the sixth point\n", "points", MediaKind.DOCUMENT),
        (b"\x00\x00\x01\x00" + bytes(40), "zeros.bin", MediaKind.OTHER),
        (bytes(range(1, 200)), "random.tga", MediaKind.OTHER),
        (b"\x0a\x05\x01\x08" + bytes(60), "not_pcx.bin", MediaKind.OTHER),
        (b"#define WIDTH 16\n#define HEIGHT 16\nint x;\n", "sizes.h", MediaKind.DOCUMENT),
        (b"MZ\x90\x00" + bytes(200), "setup.exe", MediaKind.OTHER),
    ],
)
def test_look_alikes_are_not_pictures(head: bytes, name: str, kind: MediaKind) -> None:
    assert classify(head, name) is kind


def test_a_gif_canvas_grows_to_every_frames_extent(
    corpus: Corpus,
) -> None:
    folder = corpus.folder
    assert gif_canvas(folder / "static.gif") == (96, 64)
    assert gif_canvas(folder / "extent_grows.gif") == (140, 80)
    assert gif_canvas(folder / "extent_over_limit.gif") == (12910, 12910)
    # the bomb is in the last of three frames: Pillow meets it only when it gets there
    width, height = gif_canvas(folder / "anim_extent_bomb.gif")
    assert width * height > 3_000_000_000
    with pytest.raises(Exception) as caught:
        check_pixels(folder / "anim_extent_over_limit.gif", 150_000_000)
    assert getattr(caught.value, "code", None) == "media.too_many_pixels"
    assert check_pixels(folder / "animated.gif", 150_000_000) == (96, 64)


def test_the_probe_reads_mpo_as_one_photo_and_sees_mirrors_and_colour_keys(
    corpus: Corpus,
) -> None:
    folder = corpus.folder
    for name in ("stereo.mpo", "no_second_frame.mpo"):
        info = probe_image(folder / name)
        assert (info.container, info.frames) == ("mpo", 1), name
        assert explain(MediaKind.PHOTO, info, TELEGRAM) == (Plan.IMAGE, "format=MPO")
    mirrored = probe_image(folder / "exif2.jpg")
    assert mirrored.mirrored and mirrored.rotation == 0
    assert explain(MediaKind.PHOTO, mirrored, TELEGRAM) == (Plan.IMAGE, "exif_mirrored")
    assert probe_image(folder / "exif1.jpg").mirrored is None
    keyed = probe_image(folder / "palette_alpha.png")
    assert keyed.image_mode == "PA"
    assert explain(MediaKind.PHOTO, keyed, TELEGRAM) == (Plan.IMAGE, "alpha=PA")
    # FFmpeg finds no frame in a GIF without a palette; Pillow decodes it in grey
    with pytest.raises(Exception) as caught:
        probe(folder / "no_palette_anim.gif")
    assert getattr(caught.value, "code", None) == "media.unreadable"
    assert probe_image(folder / "no_palette_anim.gif").frames == 2


def test_every_still_picture_pillow_decodes_fits_telegrams_photo_rules(
    corpus: Corpus, tmp_path: Path
) -> None:
    folder, written = corpus.folder, _samples()
    fitted = 0
    for name, sample in written.items():
        src = folder / name
        if not corpus.decodes[name] or sample.expect in ("document", "animation"):
            continue
        with Image.open(src) as image:
            if image.format != "MPO" and getattr(image, "is_animated", False):
                continue  # multi-page TIFF: an animation
        out = fit_photo(src, tmp_path / f"{name}.jpg", TELEGRAM.photo)
        assert telegram_photo_problems(out.path) == [], name
        fitted += 1
    assert fitted >= 75


def test_a_mirrored_photo_is_delivered_unmirrored(tmp_path: Path) -> None:
    # orientation 2: the stored pixels are a mirror image; the fitter flips them back
    image = picture((80, 48))
    src = tmp_path / "mirror.jpg"
    mirror = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    src.write_bytes(save(mirror, "JPEG", quality=95, exif=exif(2)))
    out = fit_photo(src, tmp_path / "out.jpg", TELEGRAM.photo)
    with Image.open(out.path) as delivered:
        assert delivered.getexif().get(0x0112, 1) == 1
        diff = ImageStat.Stat(ImageChops.difference(delivered.convert("RGB"), image)).mean
    assert max(diff) < 6, diff


@pytest.mark.slow
async def test_the_whole_corpus_through_the_engine_under_telegrams_policy(
    corpus: Corpus, tmp_path: Path
) -> None:
    outcomes = await run_engine(tmp_path, limit=300, corpus=corpus)
    assert len(outcomes) == len(samples())
    for name, outcome in outcomes.items():
        if outcome.decodes:  # what Pillow decodes arrives
            assert outcome.arrived, outcome.describe()
        else:  # the rest ends with a clear code (or arrives anyway), never engine.internal
            assert outcome.clear, outcome.describe()
            if not outcome.arrived:
                assert outcome.error_code in ERRORS and outcome.error_code != "engine.internal"
        assert outcome.as_expected, outcome.describe()
        assert outcome.photo_problems == (), (name, outcome.photo_problems)
    photos = [o for o in outcomes.values() if o.photo_problems == () and o.kind == "photo"]
    assert sum(o.arrived and o.plan != "document" for o in photos) >= 80
    # A bomb goes as a document, and the report says why.
    for name in ("bomb_30000.png", "extent_bomb.gif", "anim_extent_bomb.gif"):
        reason = outcomes[name].reason or ""
        assert reason.startswith("media.too_many_pixels: "), (name, reason)
        assert name not in reason  # the input is named by the report, not the work file
    # A cut-off file is unreadable, found without retries (an animation at its frame);
    # a library (a backup) keeps it as it came, a file, the report saying why.
    for name, outcome in outcomes.items():
        if "truncated" in name:
            assert outcome.arrived and outcome.plan == "document", outcome.describe()
            assert (outcome.reason or "").startswith("media.unreadable: "), outcome.describe()
            assert outcome.delivered is not None
            assert outcome.delivered.read_bytes() == (corpus.folder / name).read_bytes()
    assert "frame 2 cannot be decoded" in (outcomes["truncated.gif"].reason or "")
    # A strip no scaling fixes goes as a document, and the report names the rule.
    assert "aspect=30.0>20" in (outcomes["strip_30to1.png"].reason or "")
    # The animations are silent H.264 MP4s that play inline.
    for outcome in outcomes.values():
        if outcome.sample.expect == "animation":
            assert outcome.delivered is not None and outcome.delivered.suffix == ".mp4"
            info = probe(outcome.delivered)
            assert explain(MediaKind.VIDEO, info, TELEGRAM)[0] is Plan.AS_IS
            assert info.audio_codec is None and (info.duration or 0) > 0
    # A broken MPO arrives as its base JPEG, upright and the base view's size.
    mpo = outcomes["no_second_frame.mpo"].delivered
    assert mpo is not None
    with Image.open(mpo) as image:
        assert (image.format, image.size) == ("JPEG", (96, 64))


def test_a_cut_off_animation_is_unreadable_at_its_frame(corpus: Corpus, tmp_path: Path) -> None:
    from ferryman.errors import FerrymanError
    from ferryman.media.animation import animation_to_mp4

    folder = corpus.folder
    out = tmp_path / "out.mp4"
    with pytest.raises(FerrymanError) as caught:
        animation_to_mp4(folder / "truncated.gif", out)
    assert caught.value.code == "media.unreadable"  # no retry heals a cut-off file
    assert "frame 2 cannot be decoded" in caught.value.message
    assert not out.exists()
    animation_to_mp4(folder / "anim_gray16.png", out)  # 16-bit APNG frames convert
    assert explain(MediaKind.VIDEO, probe(out), TELEGRAM)[0] is Plan.AS_IS
