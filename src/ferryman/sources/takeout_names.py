"""Google Takeout's names and sidecars, as pure functions: which JSON sidecar belongs to
which photo or video (``sidecar_for``), what a sidecar says (``facts_of``), which
folder is a year's and which an album's (``album_of``).

Google names a photo's sidecar in half a dozen ways, and ``sidecar_for`` takes them
all (``docs/takeout.md`` has the table):

- ``IMG.jpg.json``, and since 2024 ``IMG.jpg.supplemental-metadata.json``;
- the name before ``.json`` cut at 46 or 47 UTF-16 units (an emoji is two), into the
  name, its suffix or ``.supplemental-metadata`` (``…_name.jp.json``,
  ``IMG.jpg.supplemental-metad.json``, ``IMG.jpg.suppl.json``, ``IMG.jpg.s.json``);
- a ``(1)`` counter moved after it all (``IMG(1).jpg`` ↔ ``IMG.jpg(1).json``,
  ``IMG.jpg.supplemental-metadata(1).json``), before the supplemental word
  (``IMG.jpg(1).supplemental-metadata.json``), or left where it was
  (``IMG(1).jpg.json``);
- an edited copy (``IMG-edited.jpg``, and the same word in other languages, or cut
  at 47: ``…_001-ha edi.JPG``) has none of its own: the original's is its;
- an old export's ``IMG.json`` (no suffix), and a Live Photo's clip (``IMG.MP4``),
  which takes its picture's (``IMG.HEIC.json``) when it has none of its own;
- names compared in NFC, and, none found so, whatever their case (``IMG.JPG`` ↔
  ``IMG.jpg.json``).

Every function here is total: any text in, an answer or None out, never an exception.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from ferryman.model import PhotoFacts

JSON = ".json"
SUPPLEMENTAL = ".supplemental-metadata"
# A name cut by Google is at least this long before ``.json`` (46 or 47 UTF-16 units, a
# counter's after it): a shorter one is only ever matched whole.
CUT_AT_LEAST = 40
FILE_CUT = (46, 47)  # a file's name before its suffix, cut by Google: UTF-16 units
# "-edited" in the languages Google Photos names an edited copy in.
EDITED = (
    "-edited", "-bearbeitet", "-modifié", "-modificato", "-editado", "-bewerkt",
    "-redigerad", "-redigeret", "-redigert", "-muokattu", "-edytowane", "-upravené",
    "-upraveno", "-szerkesztett", "-编辑", "-編集済み", "-편집됨", "-отредактировано",
    "-відредаговано", "-ha editado", "-editat",
)  # fmt: skip
_COUNTER = re.compile(r"^(?P<base>.*?)(?P<counter>\(\d{1,4}\))$", re.DOTALL)
# "Photos from 2019" in the languages Takeout names its year folders in.
_YEAR_FOLDER = re.compile(
    r"^(photos from|fotos von|photos de|fotos de|foto dal|foto del|foto's uit|fotos från"
    r"|bilder fra|zdjęcia z|fotky z|fotók|valokuvat vuodelta|фото за) (19|20)\d\d$",
    re.IGNORECASE,
)
# takeout-20240115T101112Z-001.zip; newer exports number the export too (…Z-3-001.zip);
# exported as .tgz instead, each part a whole gzip'd tar (a set is all .zip or all .tgz)
PART = re.compile(
    r"^(?P<set>takeout-\d{8}T\d{6}Z(?:-\d{1,3})?)-(?P<num>\d{3,4})\.(?P<ext>zip|tgz)$",
    re.IGNORECASE,
)


def part_key(match: re.Match[str]) -> tuple[str, str]:
    """The set a ``PART`` match names, as parts of one set share it: its name and its
    kind (``zip`` or ``tgz``), case-folded. A ``.zip`` and a ``.tgz`` are never one."""
    return match.group("set").casefold(), match.group("ext").casefold()


ALBUM_METADATA = (
    "metadata.json", "metadati.json", "metadaten.json", "métadonnées.json", "metadatos.json",
    "metadades.json", "metadáta.json", "метаданные.json", "метаданни.json",
)  # fmt: skip
# Takeout's own folders, in the languages it names them in: no album.
_OWN_FOLDERS = frozenset({
    "takeout", "google photos", "google fotos", "google foto", "fotky google", "google фото",
    "google снимки",
})  # fmt: skip


def split_counter(name: str) -> tuple[str, str]:
    """``IMG(1)`` → (``IMG``, ``(1)``); a name without a counter → (name, "")."""
    found = _COUNTER.match(name)
    if found is None or not found.group("base"):
        return name, ""
    return found.group("base"), found.group("counter")


def split_suffix(name: str) -> tuple[str, str]:
    """``IMG.jpg`` → (``IMG``, ``.jpg``); a name without a dot (or only a leading
    one) → (name, "")."""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def unedited(stem: str) -> str | None:
    """``IMG-edited`` → ``IMG`` (any of ``EDITED``, any case); None when not edited."""
    folded = stem.casefold()
    for word in EDITED:
        if folded.endswith(word) and len(stem) > len(word):
            return stem[: len(stem) - len(word)]
    return None


@dataclass(frozen=True, slots=True)
class _Wanted:
    """A sidecar's name (before ``.json`` and any counter after it) that would be this
    media's, the counter it must end with, and its rank (lower: more likely)."""

    full: str
    counter: str
    rank: int


def _wanted(media: str) -> list[_Wanted]:
    """The sidecar names ``media`` (a file's name, no folder) may have, best first."""
    stem, ext = split_suffix(media)
    wanted: list[_Wanted] = []
    seen: set[str] = set()
    rank = 0
    for base in _stems(stem):
        plain, counter = split_counter(base)
        for name, moved in (
            (f"{plain}{ext}", counter),  # IMG(1).jpg ↔ IMG.jpg(1).json
            (f"{base}{ext}", ""),  # IMG(1).jpg ↔ IMG(1).jpg.json
            (f"{plain}", counter),  # an old export's IMG(1).json
            (f"{base}", ""),
        ):
            for sup in ("", SUPPLEMENTAL):
                key = f"{name}{sup}|{moved}"
                if name and key not in seen:
                    seen.add(key)
                    wanted.append(_Wanted(f"{name}{sup}", moved, rank))
            rank += 1
    return wanted


def _stems(stem: str) -> list[str]:
    """The stem, then the original's when it names an edited copy (a counter before or
    after the edit's word: ``IMG(1)-edited``, ``IMG-edited(1)``: its counter's original
    first, else a second edited copy of ``IMG``), then, a name Google cut at 46 or 47
    into the edit's word (``…_001-ha edi``), the name before it."""
    stems = [stem]
    plain, counter = split_counter(stem)
    for candidate, after in ((stem, ""), (plain, counter)):
        original = unedited(candidate)
        if original is not None:
            stems += [f"{original}{after}", original] if after else [original]
    if len(stems) == 1 and utf16_len(plain) in FILE_CUT:
        cut = _edit_cut(plain)
        if cut is not None:
            stems.append(f"{cut}{counter}")
    return stems


def _edit_cut(stem: str) -> str | None:
    """``X`` of ``X-ha edi`` (the longest beginning of an edit's word it ends with)."""
    folded = stem.casefold()
    ends = [n for word in EDITED for n in range(1, len(word)) if folded.endswith(word[:n])]
    longest = max(ends, default=0)
    return stem[: len(stem) - longest] if 0 < longest < len(stem) else None


def utf16_len(text: str) -> int:
    """``text``'s length as Google counts it when it cuts a name: in UTF-16 units (an
    emoji is two). Total: a lone surrogate counts one."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _head(text: str) -> str:
    """``text``'s first ``CUT_AT_LEAST`` UTF-16 units (the characters that fit): what a
    cut name is indexed by, the same for a name and any cut of it."""
    units = 0
    for at, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > CUT_AT_LEAST:
            return text[:at]
    return text


def _supplemental_at(full: str) -> int | None:
    """Where ``.supplemental-metadata``, or a beginning of it at least ``.s`` long, ends
    ``full`` (``IMG.jpg.suppl``: 7), else None."""
    dot = full.rfind(".")
    tail = full[dot:]
    if dot <= 0 or len(tail) < 2 or not SUPPLEMENTAL.startswith(tail):
        return None
    return dot


def _sidecar_key(sidecar: str) -> tuple[str, str] | None:
    """A sidecar's name without ``.json``, and the counter after it (or before the
    supplemental word: ``IMG.HEIC(1).supplemental-metadata.json``); None when it is no
    ``.json``."""
    if not sidecar.casefold().endswith(JSON) or len(sidecar) <= len(JSON):
        return None
    full, counter = split_counter(sidecar[: -len(JSON)])
    at = _supplemental_at(full)
    if not counter and at is not None:
        head, moved = split_counter(full[:at])
        if moved:
            return f"{head}{full[at:]}", moved
    return full, counter


def _normal(text: str, fold: bool) -> str:
    """``text`` in NFC (a Mac writes NFD), case-folded when ``fold``."""
    text = unicodedata.normalize("NFC", text)
    return text.casefold() if fold else text


class _Index:
    """The ``.json`` names of one folder, indexed once by their names compared as
    ``_normal`` makes them (``fold``: whatever their case)."""

    def __init__(self, sidecars: Iterable[str], *, fold: bool) -> None:
        self._fold = fold
        self._whole: dict[tuple[str, str], list[str]] = {}
        self._cut: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._stems: dict[tuple[str, str], list[str]] = {}  # (picture's stem, counter)
        self._partial: dict[tuple[str, str], list[str]] = {}  # IMG.jpg.suppl.json
        for name in sidecars:
            key = _sidecar_key(_normal(name, fold))
            if key is None:
                continue
            full, counter = key
            self._whole.setdefault(key, []).append(name)
            if (before := _before_partial(full)) is not None:
                self._partial.setdefault((before, counter), []).append(name)
            if utf16_len(full) >= CUT_AT_LEAST:
                self._cut.setdefault((_head(full), counter), []).append((full, name))
            # the picture's name, its supplemental word (cut or not, at its dot too) off
            picture = _before_partial(full) or full.removesuffix(SUPPLEMENTAL)
            if picture.endswith(".") and utf16_len(full) >= CUT_AT_LEAST:
                picture = picture[:-1]
            self._stems.setdefault((split_suffix(picture)[0], counter), []).append(name)

    def find(self, media: str) -> str | None:
        """As ``Sidecars.find``, of names compared as this index compares them."""
        if not media:
            return None
        media = _normal(media, self._fold)
        best: tuple[int, str] | None = None
        for want in _wanted(media):
            found = [(want.rank * 2, n) for n in self._whole.get((want.full, want.counter), ())]
            cut = self._cut.get((_head(want.full), want.counter), ())
            found += [
                (want.rank * 2 + 1, n)
                for full, n in cut
                if len(full) < len(want.full) and want.full.startswith(full)
            ]
            if want.full.endswith(SUPPLEMENTAL):
                before = want.full[: -len(SUPPLEMENTAL)]
                partial = self._partial.get((before, want.counter), ())
                found += [(want.rank * 2 + 1, n) for n in partial]
            for candidate in found:
                if best is None or candidate < best:
                    best = candidate
        if best is not None:
            return best[1]
        return self._live_photo(media)

    def _live_photo(self, media: str) -> str | None:
        """A clip with no sidecar of its own takes the one of a picture of its stem
        (``IMG.MP4`` ← ``IMG.HEIC.json``), or, a Pixel's Motion Photo clip, of a picture
        of its whole name (``PXL_….MP`` ← ``PXL_….MP.jpg.supplemental-met.json``), when
        exactly one fits; a clip with a counter, a picture's with that counter
        (``IMG(1).MOV`` ← ``IMG.HEIC(1).json``)."""
        stem, ext = split_suffix(media)
        if ext.casefold() not in CLIPS:
            return None
        plain, counter = split_counter(stem)
        wanted = [(media, ""), (stem, "")] + ([(plain, counter)] if counter else [])
        for named in wanted:  # the more telling first
            found = sorted(set(self._stems.get(named, ())))
            if found:
                return found[0] if len(found) == 1 else None
        return None


class Sidecars:
    """The ``.json`` names of one folder, indexed once for ``find`` and ``pairs``."""

    def __init__(self, sidecars: Iterable[str]) -> None:
        names = list(sidecars)
        self._exact = _Index(names, fold=False)
        self._folded = _Index(names, fold=True)

    def find(self, media: str) -> str | None:
        """The sidecar of the file named ``media`` (no folder), or None: a name matched
        whole first (any variant, best first), then as a name Google cut (at least
        ``CUT_AT_LEAST`` UTF-16 units, the beginning of a variant's), then a Live
        Photo's clip takes its picture's; names compared in NFC, then, none found,
        whatever their case. The answer is one of the names given."""
        return self._exact.find(media) or self._folded.find(media)

    def pairs(
        self, names: Iterable[str], titles: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Each of ``names`` (the folder's files) whose sidecar is here: name → sidecar,
        as ``find`` says, except that a sidecar found only whatever its case is not
        taken from a file whose it is case and all (``IMG.JPG`` beside ``IMG.jpg`` and
        its ``IMG.jpg.json``: no sidecar). Then a file still without one takes the one
        sidecar no file took whose ``titles`` (sidecar → ``title_of``) is its name: a
        variant of the name no rule here knows."""
        listed = list(names)
        found = {n: s for n in listed if (s := self._exact.find(n)) is not None}
        claimed = set(found.values())
        for name in listed:
            sidecar = None if name in found else self._folded.find(name)
            if sidecar is not None and sidecar not in claimed:
                found[name] = sidecar
        claimed = set(found.values())
        titled: dict[str, list[str]] = {}
        for sidecar, title in (titles or {}).items():
            if sidecar not in claimed:
                titled.setdefault(title, []).append(sidecar)
        for name in listed:
            same = titled.get(unicodedata.normalize("NFC", name), []) if name not in found else []
            if len(same) == 1:
                found[name] = same[0]
        return found


def _before_partial(full: str) -> str | None:
    """``IMG.jpg`` of ``IMG.jpg.suppl`` (a cut ``.supplemental-metadata``, at least its
    ``.s``), else None."""
    at = _supplemental_at(full)
    return full[:at] if at is not None and full[at:] != SUPPLEMENTAL else None


CLIPS = frozenset({".mp4", ".mov", ".m4v", ".3gp", ".mp", ".mv"})  # .MP, .MV: a Pixel's


def sidecar_for(media: str, sidecars: Collection[str]) -> str | None:
    """Which of ``sidecars`` (names of the files in the media's own folder) is the
    JSON sidecar of the file named ``media``; None when none is (``Sidecars.find``).
    Pure and total; the answer is one of ``sidecars``."""
    return Sidecars(sidecars).find(media)


def is_album_metadata(name: str) -> bool:
    """An album folder's own ``metadata.json`` (its title, description, sharing)."""
    return name.casefold() in ALBUM_METADATA


def is_year_folder(name: str) -> bool:
    """``Photos from 2019`` (or its words in another language): where Takeout puts every
    photo by the year it was taken."""
    return _YEAR_FOLDER.match(name.strip()) is not None


def album_of(path: str) -> str | None:
    """The album a file of ``path`` (a '/'-path in the Takeout) is in: its folder's
    name, unless that is a year folder or Takeout's own (``Takeout``, ``Google
    Photos``); None then."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:
        return None
    folder = parts[-2]
    if is_year_folder(folder) or folder.casefold() in _OWN_FOLDERS:
        return None
    return folder


MAX_SIDECAR = 1 << 20  # a sidecar is a few hundred bytes; one over a MiB is no sidecar
# 1800-01-01 .. 9999-12-31: a scanned old photo whose date its owner set in Google Photos
# (1904) is told before 1970, as a negative timestamp; one within a day of 0 is unset.
_EARLIEST, _LATEST = -5_364_662_400.0, 253_402_300_799.0
_UNSET = 86_400.0


def facts_of(raw: bytes) -> PhotoFacts | None:
    """A sidecar's facts; None when ``raw`` is no Google Photos sidecar (not JSON, not
    an object, or holding none of its fields). Total."""
    data = _sidecar_object(raw)
    if data is None:
        return None
    where = _place(data.get("geoData")) or _place(data.get("geoDataExif"))
    description = data.get("description")
    text = description.strip() if isinstance(description, str) else ""
    return PhotoFacts(
        taken=_timestamp(data.get("photoTakenTime")) or _timestamp(data.get("creationTime")),
        latitude=where[0] if where else None,
        longitude=where[1] if where else None,
        altitude=where[2] if where else None,
        description=text[:2000] or None,
    )


def title_of(raw: bytes) -> str | None:
    """The name a photo's sidecar gives its photo (``title``: the name it was uploaded
    with), NFC; None when ``raw`` is no photo's sidecar (an album's has no
    ``photoTakenTime``). Total."""
    data = _sidecar_object(raw)
    title = data.get("title") if data is not None and "photoTakenTime" in data else None
    if not isinstance(title, str) or not title.strip():
        return None
    return unicodedata.normalize("NFC", title.strip())


def _sidecar_object(raw: bytes) -> dict[str, object] | None:
    """``raw`` read as a Google Photos sidecar: a JSON object with one of its fields."""
    if len(raw) > MAX_SIDECAR:
        return None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    if not any(key in data for key in ("photoTakenTime", "geoData", "geoDataExif", "title")):
        return None
    return data


def _timestamp(value: object) -> float | None:
    if not isinstance(value, dict):
        return None
    raw = value.get("timestamp")
    try:
        seconds = float(raw) if isinstance(raw, (str, int, float)) else math.nan
    except ValueError:
        return None
    if not math.isfinite(seconds) or not _EARLIEST <= seconds <= _LATEST:
        return None
    if abs(seconds) < _UNSET:
        return None
    return seconds


def _place(value: object) -> tuple[float, float, float | None] | None:
    if not isinstance(value, dict):
        return None
    numbers = [_number(value.get(key)) for key in ("latitude", "longitude", "altitude")]
    lat, lon, alt = numbers
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return lat, lon, alt


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def pairs(names: Iterable[str], sidecars: Collection[str]) -> dict[str, str]:
    """Each of ``names`` (files of one folder) whose sidecar is among ``sidecars`` (the
    folder's ``.json`` files): name → sidecar (``Sidecars.pairs``)."""
    return Sidecars(sidecars).pairs(names)
