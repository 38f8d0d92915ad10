"""Every sidecar naming variant known in the field, in one generated Takeout delivered to
a library (issue 81, item 3: "better than immich-go on a generated Takeout of every
naming variant"): each photo or clip gets its sidecar's date and place, or its
original's (an edited copy, a Live Photo's clip), and no sidecar is delivered.

The names are those immich-go's matcher tests and issues (#405, #613, #652, #673,
#674, #698, #756), GooglePhotosTakeoutHelper and its successor, google-photos-exif and
ente's issues report from real exports, and the rule they agree on: the name with
``.supplemental-metadata`` cut at 46 UTF-16 units, ``.json`` and a counter after it
(a long file name cut at 47 before its suffix). Real zips, real JPEG, HEIC and videos,
the engine run by the CLI, from the zip and unpacked."""

from __future__ import annotations

import unicodedata
import zipfile
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image

from ferryman.samples import make_photo, make_video
from tests.engine.test_takeout import Photo, check_library, cli, sidecar

YEAR = "Takeout/Google Photos/Photos from 2023"
ALBUM = "Takeout/Google Photos/Trip"
SUP = ".supplemental-metadata"
BASE = 1_672_574_400  # 2023-01-01 12:00 UTC


def utf16_cut(text: str, units: int) -> str:
    """``text`` cut to ``units`` UTF-16 code units, as Google cuts a sidecar's name."""
    out, used = [], 0
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            break
        out.append(char)
    return "".join(out)


def google(media: str, counter: str = "", supplemental: bool = True) -> str:
    """The sidecar Google names for ``media`` (named without its counter)."""
    return f"{utf16_cut(media + (SUP if supplemental else ''), 46)}{counter}.json"


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def variants() -> list[tuple[str, str | None, str | None, str]]:
    """(the file's name, its sidecar's name, the sidecar that tells it when it has none
    of its own, where the variant is reported)."""
    long = "Screenshot_20190317-101112_Some Really Long App Name"
    emoji = "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚😋"
    sunset = "IMG_20230101_120000_Sunset at the harbor"  # 40 characters
    yoli = "Con Yoli por Málaga en el piso nuevo_001"
    v: list[tuple[str, str | None, str | None, str]] = [
        ("IMG_0001.jpg", "IMG_0001.jpg.json", None, "plain"),
        ("IMG_0002.HEIC", "IMG_0002.HEIC.supplemental-metadata.json", None, "supplemental"),
        ("IMG_0003(1).jpg", "IMG_0003.jpg(1).json", None, "counter moved (immich-go)"),
        ("DSC_0101(1).JPG", "DSC_0101.JPG(1).json", None, "counter moved (immich-go)"),
        ("IMG_0004(1).jpg", "IMG_0004(1).jpg.json", None, "counter kept"),
        ("Scan35(1).jpg", "Scan35.jpg.supplemental-metadata(1).json", None, "immich-go #673"),
        ("CLIP0001(10).jpg", "CLIP0001.jpg.supplemental-metadata(10).json", None, "#673"),
        ("2013-12-23(1).jpg", "2013-12-23.supplemental-metadata(1).json", None, "#756"),
        ("Screenshot_20231027_123303_Facebook(1).jpg",
         "Screenshot_20231027_123303_Facebook.jpg.supple(1).json", None, "immich-go #652"),
        ("13039_327707840323_537645323_9470255_27214_n(1).jpg",
         "13039_327707840323_537645323_9470255_27214_n.j(1).json", None, "immich-go #613"),
        ("IMG_2367(1).HEIC", "IMG_2367.HEIC(1).supplemental-metadata.json", None,
         "counter before the supplemental word (GPTH Neo)"),
        ("20161105_170829.jpg", "20161105_170829.jpg.supplemental-metadata.json", None, "#652"),
        ("MVIMG_20191230_232926.jpg", "MVIMG_20191230_232926.jpg.supplemental-metadat.json",
         None, "#652"),
        ("Screenshot_20200301-161151.png", "Screenshot_20200301-161151.png.supplemental-me.json",
         None, "#652"),
        ("MVIMG_20200207_134534~2.jpg", "MVIMG_20200207_134534~2.jpg.supplemental-metad.json",
         None, "a ~2 copy (#652)"),
        ("PXL_20210102_221126856.MP~2.jpg", "PXL_20210102_221126856.MP~2.jpg.json", None,
         "immich-go #405"),
        ("Screenshot_2024-08-31-00-53-48-647_com.snapchat.jpg",
         "Screenshot_2024-08-31-00-53-48-647_com.snapcha.json", None, "cut at 46 (immich-go)"),
        (f"{long}.jpg", f"{long}.jpg"[:47] + ".json", None, "cut at 47"),
        ("Screenshot_20190318-090000_Another Long App Name.jpg",
         "Screenshot_20190318-090000_Another Long App Name.jpg"[:41] + ".json", None,
         "cut at 46 counting .json"),
        ("05yqt21kruxwwlhhgrwrdyb6chhwszi9bqmzu16w0 2.jpg",
         "05yqt21kruxwwlhhgrwrdyb6chhwszi9bqmzu16w0 2.jp.json", None, "cut into the suffix"),
        ("PXL_20230809_203449253.LONG_EXPOSURE-02.ORIGINA.jpg",
         "PXL_20230809_203449253.LONG_EXPOSURE-02.ORIGIN.json", None, "file cut at 47"),
        ("PXL_20230814_201154491.LONG_EXPOSURE-01.COVER.jpg",
         "PXL_20230814_201154491.LONG_EXPOSURE-01.COVER..json", None, "cut at the dot"),
        ("Backyard_ceremony_wedding_photography_xxxxxxx_m(494).jpg",
         "Backyard_ceremony_wedding_photography_xxxxxxx_(494).json", None, "immich-go"),
        ("original_1d4caa6f-16c6-4c3d-901b-9387de10e528_P.jpg",
         "original_1d4caa6f-16c6-4c3d-901b-9387de10e528_.json", None, "immich-go"),
        (f"{emoji}😛.jpg", f"{emoji}.json", None, "cut at 46 UTF-16 units (immich-go)"),
        ("Ünïcødé 🎂 birthday party at the lake house.jpg",
         google("Ünïcødé 🎂 birthday party at the lake house.jpg"), None,
         "a supplemental cut counted in UTF-16"),
        ("123456789123456789123456789123456789_DSCN0091.JPG",
         "123456789123456789123456789123456789_DSCN0091.JP.supplemental-meta.json", None,
         "no rule's: paired by its title (GPTH Neo #29's data set)"),
        ("IMG_0005.jpg", "IMG_0005.json", None, "no suffix (old exports)"),
        ("27_06_12 - 2.jpg", "27_06_12 - 2.json", None, "no suffix, spaces (immich-go)"),
        ("IMG_0006.JPG", "IMG_0006.jpg.json", None, "the suffix's case differs"),
        ("DSC_0007.jpeg", "DSC_0007.JPEG.supplemental-metadata.json", None, "case differs"),
        (nfd("Café Ñandú.jpg"), "Café Ñandú.jpg.json", None, "the file NFD, its sidecar NFC"),
        ("Crème brûlée.jpg", nfd("Crème brûlée.jpg.supplemental-metadata.json"), None,
         "the file NFC, its sidecar NFD"),
        # edited copies: no sidecar of their own
        ("IMG_0008.jpg", "IMG_0008.jpg.json", None, "an original"),
        ("IMG_0008-edited.jpg", None, "IMG_0008.jpg.json", "edited"),
        ("IMG_0008-bearbeitet.jpg", None, "IMG_0008.jpg.json", "edited, German"),
        ("IMG_0008-editado.jpg", None, "IMG_0008.jpg.json", "edited, Spanish/Portuguese"),
        ("IMG_0008-ha editado.jpg", None, "IMG_0008.jpg.json", "edited, Spanish (GPTH)"),
        ("IMG_0008-editat.jpg", None, "IMG_0008.jpg.json", "edited, Catalan (GPTH)"),
        ("IMG_0009.jpg", "IMG_0009.jpg.json", None, "an original"),
        ("IMG_0009-EDITED.jpg", None, "IMG_0009.jpg.json", "edited, upper case"),
        (nfd("IMG_0009-modifié.jpg"), None, "IMG_0009.jpg.json", "edited, French, NFD"),
        ("IMAG0061.JPG", "IMAG0061.JPG.supplemental-metadata.json", None, "an original"),
        ("IMAG0061-edited.JPG", None, "IMAG0061.JPG.supplemental-metadata.json", "#698"),
        ("IMG-20230325-WA0122~2.jpg", "IMG-20230325-WA0122~2.jpg.supplemental-metadat.json",
         None, "an original"),
        ("IMG-20230325-WA0122~2-edited.jpg", None,
         "IMG-20230325-WA0122~2.jpg.supplemental-metadat.json", "immich-go #674"),
        ("2234089303984509579-edited.jpg", None,
         "2234089303984509579.supplemental-metadata.json", "#674, no suffix"),
        ("PXL_20220405_090123740.PORTRAIT.jpg", "PXL_20220405_090123740.PORTRAIT.jpg.json",
         None, "an original"),
        ("PXL_20220405_090123740.PORTRAIT-modifié.jpg", None,
         "PXL_20220405_090123740.PORTRAIT.jpg.json", "edited, dots in the stem (immich-go)"),
        ("IMG_20120216_094016.jpg", "IMG_20120216_094016.jpg.supplemental-metadata.json",
         None, "an original"),
        ("IMG_20120216_094016-edited(1).jpg", None,
         "IMG_20120216_094016.jpg.supplemental-metadata.json",
         "a second edited copy (immich-go #756)"),
        ("IMG_0010(1).jpg", "IMG_0010.jpg(1).json", None, "an original with a counter"),
        ("IMG_0010(1)-edited.jpg", None, "IMG_0010.jpg(1).json", "its edited copy"),
        (f"{yoli}.JPG", f"{yoli}.JPG.json", None, "an original, 40 characters"),
        (f"{yoli}-ha edi.JPG", None, f"{yoli}.JPG.json",
         "edited, the word cut at 47 (GPTH Neo, @Sappstal's export)"),
        # Live Photos and Motion Photos: the clip takes its still's
        ("IMG_0011.HEIC", "IMG_0011.HEIC.json", None, "a Live Photo"),
        ("IMG_0011.MOV", None, "IMG_0011.HEIC.json", "its clip"),
        ("20231227_152817.jpg", "20231227_152817.jpg.json", None, "a Samsung Motion Photo"),
        ("20231227_152817.MP4", None, "20231227_152817.jpg.json", "its clip (immich-go)"),
        ("PXL_20201227_164322043.MP.jpg", google("PXL_20201227_164322043.MP.jpg"), None,
         "a Pixel Motion Photo"),
        ("PXL_20201227_164322043.MP", None, google("PXL_20201227_164322043.MP.jpg"), "its clip"),
        (f"{sunset}.HEIC", google(f"{sunset}.HEIC"), None, "a Live Photo, cut at the dot"),
        (f"{sunset}.MOV", None, google(f"{sunset}.HEIC"), "its clip"),
        ("IMG_0012(1).HEIC", "IMG_0012.HEIC(1).json", None, "a counted Live Photo"),
        ("IMG_0012(1).MOV", None, "IMG_0012.HEIC(1).json", "its clip"),
    ]  # fmt: skip
    # every cut of ".supplemental-metadata" and of the name, at 46 (names 30..60 long)
    for length in (30, 38, 40, 41, 44, 45, 46, 47, 50, 60):
        stem = f"PXL_20230101_{length:02d}" + "x" * (length - 17)
        v.append((f"{stem}.jpg", google(f"{stem}.jpg"), None, f"supplemental cut, {length}"))
        v.append((f"{stem}(1).jpg", google(f"{stem}.jpg", "(1)"), None, "cut, a counter"))
        png = f"Screenshot_2023_{length:02d}" + "y" * (length - 18)
        v.append((f"{png}.png", google(f"{png}.png", supplemental=False), None, "legacy cut"))
    return v


def media_bytes(name: str, seed: int, made: Path) -> bytes:
    suffix = Path(name).suffix.casefold()
    if suffix in (".mov", ".mp4", ".mp"):
        container = "mov" if suffix == ".mov" else "mp4"
        clip = make_video(made / f"{seed}.{container}", seed, seconds=0.2, size=(64, 48))
        return clip.read_bytes()
    picture = make_photo(made / f"{seed}.jpg", seed, size=(48, 32))
    if suffix == ".heic":
        heic = made / f"{seed}.heic"
        pillow_heif.from_pillow(Image.open(picture)).save(heic, quality=30)
        return heic.read_bytes()
    if suffix == ".png":
        return make_photo(made / f"{seed}.png", seed, size=(48, 32), fmt="PNG").read_bytes()
    return picture.read_bytes()


def export(folder: Path) -> tuple[Path, list[Photo], dict[str, bytes]]:
    """One Takeout zip holding every variant (the last 20 in an album's folder), the
    photos as ``check_library`` wants them, and their bytes."""
    made = folder / "made"
    made.mkdir(parents=True)
    every = variants()
    tellers: dict[str, Photo] = {}
    for seed, (name, own, told_by, _) in enumerate(every, 1):
        told = own or told_by or ""
        if told not in tellers:  # an original's sidecar, its original in the export or not
            place = (10.0 + seed / 7, 20.0 + seed / 11, float(seed))
            tellers[told] = Photo(name, told, BASE + seed * 86_400, place, f"#{seed}")
    photos: list[Photo] = []
    files: dict[str, bytes] = {}
    content: dict[str, bytes] = {}
    for seed, (name, own, told_by, _) in enumerate(every, 1):
        folder_of = ALBUM if seed > len(every) - 20 else YEAR
        teller = tellers[own or told_by or ""]
        # named in NFC in the library, as any archive's names (``archive.names``)
        delivered = unicodedata.normalize("NFC", f"{folder_of}/{name}")
        photo = Photo(delivered, own, teller.taken, teller.place, teller.description,
                      seed=seed, told_by=told_by)  # fmt: skip
        photos.append(photo)
        content[delivered] = files[f"{folder_of}/{name}"] = media_bytes(name, seed, made)
        if own is not None:
            files[f"{folder_of}/{own}"] = sidecar(teller)
    for photo in photos:  # a teller's sidecar in its copy's folder too
        if photo.told_by is not None:
            folder_of = photo.path.rpartition("/")[0]
            files.setdefault(f"{folder_of}/{photo.told_by}", sidecar(tellers[photo.told_by]))
    path = folder / "takeout-20260101T101112Z-001.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
    for file in made.iterdir():
        file.unlink()
    made.rmdir()
    return path, photos, content


@pytest.mark.parametrize("given", ["zip", "unpacked"])
def test_every_naming_variant_gets_its_date_and_place(tmp_path: Path, given: str) -> None:
    part, photos, content = export(tmp_path / "in")
    where = part
    if given == "unpacked":
        with zipfile.ZipFile(part) as zf:
            zf.extractall(tmp_path / "unpacked")
        where = tmp_path / "unpacked"
    library = tmp_path / "Library"
    ran = cli(tmp_path / "data", None, "add", "--run", "--to", f"library:{library}", str(where))
    assert ran.exit_code == 0, ran.output
    check_library(library, content, every=photos)  # 100 % of dates and places, no .json
