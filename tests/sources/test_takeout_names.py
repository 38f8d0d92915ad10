"""Google Takeout's sidecars paired with their photos whatever the naming variant
(issue 81, item 3): a table of every variant Google writes, then properties of the
pairing (total, its answer one of the names given, a generated variant always found
among others' sidecars, never a sidecar with another counter) and of a sidecar's facts
(total; 0.0/0.0 is nowhere)."""

from __future__ import annotations

import itertools
import json
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ferryman.model import PhotoFacts as Facts
from ferryman.sources.takeout_names import (
    SUPPLEMENTAL,
    Sidecars,
    album_of,
    facts_of,
    is_album_metadata,
    is_year_folder,
    pairs,
    sidecar_for,
    title_of,
)

TOTAL = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LONG = "Screenshot_20190317-101112_Some Really Long App Name.jpg"  # 55 characters
EMOJI = "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚😋"  # 24 characters, 46 UTF-16 units
LIVE = "IMG_20230101_120000_Sunset at the harbor"  # 40: + .HEIC.supplemental…, cut at 46
YOLI = "Con Yoli por Málaga en el piso nuevo_001"  # + "-ha edi": 47

# (media, its sidecar as Takeout names it, what the variant is)
VARIANTS = [
    ("IMG_0001.jpg", "IMG_0001.jpg.json", "plain"),
    ("IMG_0001.HEIC", "IMG_0001.HEIC.supplemental-metadata.json", "supplemental"),
    ("IMG_0001.jpg", "IMG_0001.jpg.supplemental-metad.json", "supplemental cut"),
    ("IMG_0001.jpg", "IMG_0001.jpg.suppl.json", "supplemental cut short"),
    ("IMG_0001.jpg", "IMG_0001.jpg.s.json", "supplemental cut to one letter"),
    ("IMG_0001(1).jpg", "IMG_0001.jpg(1).json", "counter moved"),
    ("IMG_0001(2).jpg", "IMG_0001.jpg.supplemental-metadata(2).json", "counter after sup"),
    ("IMG_0001(1).jpg", "IMG_0001(1).jpg.json", "counter kept"),
    ("IMG_0001-edited.jpg", "IMG_0001.jpg.json", "edited"),
    ("IMG_0001-bearbeitet.jpg", "IMG_0001.jpg.json", "edited, German"),
    ("IMG_0001-modifié.jpg", "IMG_0001.jpg.json", "edited, French"),
    ("IMG_0001-EDITED.jpg", "IMG_0001.jpg.supplemental-metadata.json", "edited, upper case"),
    ("IMG_0001-отредактировано.jpg", "IMG_0001.jpg.json", "edited, Russian"),
    ("PXL_20220405_090123740.PORTRAIT-modificato.jpg", "PXL_20220405_090123740.PORTRAIT.jpg.json",
     "edited, Italian, a dot in the stem (immich-go's notes)"),
    ("IMG_0001(1)-edited.jpg", "IMG_0001.jpg(1).json", "edited with a counter"),
    ("IMG_0001.jpg", "IMG_0001.json", "no suffix (old exports)"),
    ("IMG_0002.MP4", "IMG_0002.HEIC.json", "a Live Photo's clip"),
    ("IMG_0002.MP4", "IMG_0002.HEIC.supplemental-met.json", "a Live Photo's clip, sup cut"),
    ("PXL_20201227_164322043.MP", "PXL_20201227_164322043.MP.jpg.supplemental-met.json",
     "a Pixel Motion Photo's clip, named as its picture without .jpg"),
    ("PXL_20201227_164322043.MV", "PXL_20201227_164322043.MV.jpg.json", "an older Motion clip"),
    ("IMG_0002(1).MOV", "IMG_0002.HEIC.supplemental-metadata(1).json", "a Live clip's counter"),
    ("IMG_0002(1).MOV", "IMG_0002.HEIC(1).json", "a Live clip's counter, moved"),
    (f"{LIVE}.MOV", f"{LIVE}.HEIC..json", "a Live clip, its picture's cut at the dot"),
    (LONG, f"{LONG[:46]}.json", "name cut at 46"),
    (LONG, f"{LONG[:47]}.json", "name cut at 47"),
    (LONG, f"{(LONG + SUPPLEMENTAL)[:46]}.json", "supplemental of a long name, cut"),
    (f"{LONG[:43]}.jpg", f"{LONG[:43]}.jp.json", "cut into the suffix"),
    (LONG.replace(".jpg", "(1).jpg"), f"{LONG[:46]}(1).json", "cut, then a counter"),
    ("IMG_2367(1).HEIC", "IMG_2367.HEIC(1).supplemental-metadata.json",
     "a counter before the supplemental word (GPTH Neo)"),
    ("IMG_2367(1).HEIC", "IMG_2367.HEIC(1).suppl.json", "… before its cut"),
    (f"{EMOJI}😛.jpg", f"{EMOJI}.json", "cut at 46 UTF-16 units: an emoji is 2 (immich-go)"),
    ("IMG_0001.JPG", "IMG_0001.jpg.json", "the suffix's case differs"),
    ("DSC_0001.jpeg", "DSC_0001.JPEG.supplemental-metadata.json", "… the sidecar's upper"),
    ("IMG_0001-ha editado.jpg", "IMG_0001.jpg.json", "edited, Spanish (GPTH)"),
    ("IMG_0001-editat.jpg", "IMG_0001.jpg.json", "edited, Catalan (GPTH)"),
    ("IMG_0001-edited(1).jpg", "IMG_0001.jpg.supplemental-metadata.json",
     "a second edited copy (immich-go #756)"),
    (f"{YOLI}-ha edi.JPG", f"{YOLI}.JPG.json", "the edit's word cut at 47 (GPTH Neo)"),
    (f"{YOLI}-ha edi(1).JPG", f"{YOLI}.JPG(1).json", "… then a counter"),
    (unicodedata.normalize("NFD", "Café-modifié.jpg"), "Café.jpg.json", "NFD, edited"),
    ("Café.jpg", unicodedata.normalize("NFD", "Café.jpg.json"), "the sidecar NFD"),
]  # fmt: skip


@pytest.mark.parametrize(("media", "sidecar", "variant"), VARIANTS)
def test_every_variant_is_paired(media: str, sidecar: str, variant: str) -> None:
    others = {"IMG_0003.jpg.json", "IMG_0001.jpg(3).json", "metadata.json", "other.png.json"}
    assert sidecar_for(media, {sidecar, *others}) == sidecar, variant


def test_a_counter_never_takes_the_plain_ones_and_the_plain_never_a_counters() -> None:
    folder = {"IMG.jpg.json", "IMG.jpg(1).json", "IMG.jpg.supplemental-metadata(2).json"}
    assert pairs(["IMG.jpg", "IMG(1).jpg", "IMG(2).jpg", "IMG(3).jpg"], folder) == {
        "IMG.jpg": "IMG.jpg.json",
        "IMG(1).jpg": "IMG.jpg(1).json",
        "IMG(2).jpg": "IMG.jpg.supplemental-metadata(2).json",
    }


def test_a_name_of_another_case_takes_no_sidecar_a_file_of_its_case_has() -> None:
    folder = {"IMG.jpg.json", "DSC.JPG.json"}
    assert pairs(["IMG.jpg", "IMG.JPG", "DSC.jpg", "DSC-edited.jpg"], folder) == {
        "IMG.jpg": "IMG.jpg.json",  # IMG.JPG: none (IMG.jpg's, case and all)
        "DSC.jpg": "DSC.JPG.json",
        "DSC-edited.jpg": "DSC.JPG.json",
    }


def test_a_file_no_rule_pairs_takes_the_one_free_sidecar_titled_its_name() -> None:
    odd = "123456789123456789123456789123456789_DSCN0091.JP.supplemental-meta.json"
    named = "IMG_0001.jpg"
    folder = {odd, "IMG_0001.jpg.json", "a.json", "b.json", "IMG_0003.jpg.json"}
    titles = {
        odd: "123456789123456789123456789123456789_DSCN0091.JPG",
        "IMG_0001.jpg.json": "IMG_0003.jpg",  # taken by its name: not by a title
        "a.json": "twin.jpg",
        "b.json": "twin.jpg",  # which one? none
        "IMG_0003.jpg.json": "IMG_0003.jpg",
    }
    files = ["123456789123456789123456789123456789_DSCN0091.JPG", named, "twin.jpg"]
    assert pairs(files, folder) == {named: "IMG_0001.jpg.json"}
    assert Sidecars(folder).pairs(files, titles) == {
        named: "IMG_0001.jpg.json",
        "123456789123456789123456789123456789_DSCN0091.JPG": odd,
    }
    taken = sidecar_json(photoTakenTime={"timestamp": "1546344000"})
    assert title_of(taken) == "IMG.jpg"
    assert title_of(json.dumps({"title": "Paris trip"}).encode()) is None  # an album's
    assert title_of(b"[]") is None


def test_an_edited_copy_s_counter_is_its_original_s_first() -> None:
    folder = {"IMG.jpg.json", "IMG.jpg(1).json"}
    assert sidecar_for("IMG-edited(1).jpg", folder) == "IMG.jpg(1).json"
    assert sidecar_for("IMG-edited(2).jpg", folder) == "IMG.jpg.json"  # a second edit


def test_a_whole_name_wins_over_a_cut_one_and_no_guess_for_short_names() -> None:
    assert sidecar_for("IMG.jpg", {"IMG.jp.json"}) is None  # short: only ever whole
    assert sidecar_for("IMG.jpeg", {"IMG.jpg.json"}) is None
    assert sidecar_for("IMG.MP4", {"IMG.jpg.json", "IMG.HEIC.json"}) is None  # which one?
    assert sidecar_for("IMG.jpg", {"IMG.jpg.json", "IMG.jpg.supplemental-metadata.json"}) == (
        "IMG.jpg.json"
    )
    cut = f"{LONG[:46]}.json"
    assert sidecar_for(LONG, {cut, f"{LONG}.json"}) == f"{LONG}.json"


_NAME_CHARS = st.characters(
    whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="_- .", max_codepoint=0x2FF
)
_EMOJI = st.sampled_from("😀🎂🥲")  # two UTF-16 units each, as Google counts a cut
_STEMS = st.text(_NAME_CHARS | _EMOJI, min_size=1, max_size=60).filter(
    lambda s: s.strip(" .") == s and not s.endswith(")")
)
_EXTS = st.sampled_from([".jpg", ".JPG", ".heic", ".png", ".mp4", ".MOV", ".gif", ".webp"])


def google_sidecar(media: str, counter: int, supplemental: bool, cut: int) -> str:
    """The sidecar Google writes for ``media`` (named without its counter): the name
    with ``.supplemental-metadata``, cut at ``cut`` UTF-16 units, the counter after."""
    full, units = "", 0
    for char in f"{media}{SUPPLEMENTAL if supplemental else ''}":
        units += 2 if ord(char) > 0xFFFF else 1
        if units > cut:
            break
        full += char
    return f"{full}{f'({counter})' if counter else ''}.json"


def counted(media: str, counter: int) -> str:
    stem, _, ext = media.rpartition(".")
    return f"{stem}({counter}).{ext}" if counter else media


def cut_file(stem: str) -> str:
    """A file's stem as Google cuts it: 47 UTF-16 units."""
    return google_sidecar(stem, 0, False, 47).removesuffix(".json")


def test_every_length_script_counter_and_cut_is_paired_and_so_its_edits_and_clip() -> None:
    """Every stem 1 to 61 characters long (ASCII, accented, emoji), suffix, counter,
    supplemental or not, cut at 46 or 47: the file, its edited copies (the name cut at
    47 into the word) and a Live Photo's clip find the sidecar Google names."""
    failed = []
    for length, char, ext in itertools.product(range(1, 62), "aé🎂", (".jpg", ".HEIC")):
        stem = f"IMG_{char * length}"
        for counter, supplemental, cut in itertools.product((0, 1, 12), (False, True), (46, 47)):
            sidecar = google_sidecar(f"{stem}{ext}", counter, supplemental, cut)
            named = f"({counter})" if counter else ""
            files = [f"{stem}{named}{ext}", f"{stem}{named}-edited{ext}"]
            if not counter:
                files += [f"{cut_file(stem + word)}{ext}" for word in ("-modifié", "-ha editado")]
            if ext == ".HEIC":
                files.append(f"{stem}{named}.MOV")
            failed += [(f, sidecar) for f in files if sidecar_for(f, {sidecar}) != sidecar]
    assert not failed, (len(failed), failed[:5])


@TOTAL
@given(
    st.lists(st.tuples(_STEMS, _EXTS), min_size=1, max_size=6, unique_by=lambda t: t[0].casefold()),
    st.integers(0, 3),
    st.booleans(),
    st.sampled_from([46, 47]),
    st.booleans(),
)
@example([("🎂" * 30, ".jpg"), ("IMG_🥲", ".heic")], 1, True, 46, False)  # 23 cut characters
def test_a_generated_variant_is_found_among_other_photos_sidecars(
    named: list[tuple[str, str]], counter: int, supplemental: bool, cut: int, edited: bool
) -> None:
    """Each photo's sidecar as Google names it, every photo's in one folder: each photo
    (and its edited copy) finds its own."""
    medias = [f"{stem}{ext}" for stem, ext in named]
    sidecars = {google_sidecar(m, counter, supplemental, cut): m for m in medias}
    if len(sidecars) < len(medias):
        return  # two names cut to one: Google would have counted them apart
    for sidecar, media in sidecars.items():
        name = counted(media, counter)
        if edited:
            stem, _, ext = name.rpartition(".")
            name = f"{stem}-edited.{ext}"
        found = sidecar_for(name, set(sidecars))
        assert found == sidecar, (name, found, sorted(sidecars))


@TOTAL
@given(st.text(max_size=80), st.lists(st.text(max_size=80), max_size=8))
def test_pairing_is_total_and_answers_one_of_the_names_given(
    media: str, sidecars: list[str]
) -> None:
    found = sidecar_for(media, sidecars)
    assert found is None or found in sidecars


@TOTAL
@given(_STEMS, _EXTS, st.integers(1, 9))
def test_a_file_without_a_counter_never_takes_a_counted_sidecar(
    stem: str, ext: str, counter: int
) -> None:
    media = f"{stem}{ext}"
    assert sidecar_for(media, {f"{media}({counter}).json"}) is None


def sidecar_json(**fields: object) -> bytes:
    return json.dumps({"title": "IMG.jpg", **fields}).encode()


def test_facts_of_a_sidecar() -> None:
    facts = facts_of(
        sidecar_json(
            description="  Eiffel  ",
            photoTakenTime={"timestamp": "1546344000", "formatted": "1 Jan 2019"},
            geoData={"latitude": 48.8584, "longitude": 2.2945, "altitude": 35.5},
        )
    )
    assert facts == Facts(1546344000.0, 48.8584, 2.2945, 35.5, "Eiffel")
    nowhere = facts_of(
        sidecar_json(
            photoTakenTime={"timestamp": "1546344000"},
            geoData={"latitude": 0.0, "longitude": 0.0, "altitude": 0.0},
        )
    )
    assert nowhere == Facts(taken=1546344000.0)
    from_exif = facts_of(
        sidecar_json(
            geoData={"latitude": 0.0, "longitude": 0.0},
            geoDataExif={"latitude": -33.85, "longitude": 151.2},
        )
    )
    assert from_exif is not None and (from_exif.latitude, from_exif.longitude) == (-33.85, 151.2)
    assert facts_of(b'{"albumData": 1}') is None
    assert facts_of(b"[1, 2]") is None
    assert facts_of(sidecar_json(photoTakenTime={"timestamp": "nan"})) == Facts()


def test_a_date_set_before_1970_is_the_photo_s_not_its_upload_s() -> None:
    # A scanned 1904 photo dated in Google Photos: its timestamp is negative; its
    # creationTime (the upload, 2017) is no time it was taken.
    old = sidecar_json(
        photoTakenTime={"timestamp": "-2075673600", "formatted": "24 Mar 1904"},
        creationTime={"timestamp": "1491950231"},
    )
    assert facts_of(old) == Facts(taken=-2075673600.0)
    unset = sidecar_json(photoTakenTime={"timestamp": "0"}, creationTime={"timestamp": "5"})
    assert facts_of(unset) == Facts()


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@TOTAL
@given(
    st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(["photoTakenTime", "geoData", "geoDataExif", "description", "title"]),
            _JSON,
        ).map(lambda d: json.dumps(d).encode()),
    )
)
def test_facts_of_is_total(raw: bytes) -> None:
    facts = facts_of(raw)
    if facts is not None and facts.latitude is not None:
        assert facts.longitude is not None
        assert -90 <= facts.latitude <= 90
        assert (facts.latitude, facts.longitude) != (0.0, 0.0)


def test_year_folders_and_albums() -> None:
    assert is_year_folder("Photos from 2019")
    assert is_year_folder("Fotos von 2021")
    assert not is_year_folder("Trip to 2019 Paris")
    assert album_of("Takeout/Google Photos/Photos from 2019/IMG.jpg") is None
    assert album_of("Takeout/Google Photos/Paris trip/IMG.jpg") == "Paris trip"
    assert album_of("IMG.jpg") is None
    # Takeout's own folder and an album's metadata in the export's language (immich-go's
    # notes on real exports: Italian, Slovak, Russian, Bulgarian, Spanish).
    for own in ("Google Foto", "Fotky Google", "Google Фото", "Google Снимки"):
        assert album_of(f"Takeout/{own}/print-subscriptions.json") is None, own
    assert album_of("Takeout/Google Foto/Amsterdam 2022/IMG.jpg") == "Amsterdam 2022"
    for name in ("metadati.json", "Metadaten.json", "metadáta.json", "метаданные.json",
                 "метаданни.json", "metadatos.json", "métadonnées.json"):  # fmt: skip
        assert is_album_metadata(name), name


def test_what_a_sidecar_told_goes_with_the_photo_and_with_a_converted_copy() -> None:
    from ferryman.model import MediaInfo

    told = Facts(1546344000.0, 48.8584, 2.2945, 35.5, "Eiffel", ("Paris trip",))
    probed = MediaInfo(width=4000, taken=1.5e9)  # the file's own EXIF date
    media = probed.told(told)
    assert (media.taken, media.latitude, media.description, media.albums) == (
        1546344000.0,
        48.8584,
        "Eiffel",
        ["Paris trip"],
    )
    assert media.width == 4000 and media.placed
    assert MediaInfo.from_json(media.to_json()) == media  # kept by the store as it is
    copy = MediaInfo(width=1280, taken=None).kept_from(media)  # a transcode's own probe
    assert (copy.width, copy.taken, copy.longitude, copy.albums) == (
        1280,
        1546344000.0,
        2.2945,
        ["Paris trip"],
    )
    plain = MediaInfo(width=1280)
    assert plain.kept_from(probed) is plain  # nothing told: the copy's own facts
