"""Entry names stored in a legacy code page, decoded as the tool that wrote them meant.

Zips from Windows' "Send to compressed folder" (and many other Windows tools) store
names in the OEM code page without zip's UTF-8 flag: cp437/cp850 in the West, cp866 in
Russia, cp932 (Shift-JIS) in Japan, cp936 (GBK) in China. A tar written under a Latin-1
locale stores Latin-1.
Decoded as UTF-8 with "replace", every such name became ``Caf\ufffd.jpg``, and names that
differed only in their non-ASCII letters collided. Which code page is not recorded, so
each name is read the first way that looks like text: UTF-8; then Shift-JIS when that
yields kana, or two or more ideographs and fewer than half as many lone non-ASCII bytes
(a lone one between ASCII is how Latin names look, ``M\x81ller``; Japanese comes mostly
in runs), unless cp866 reads as Cyrillic words (``_cyrillic``) and the Japanese reading
is unlikely (half-width katakana or rare kanji: ``Фото`` is two level-2 kanji), or GBK
(Simplified Chinese Windows: cp936) when every byte past ASCII pairs into GB2312's
letters and two or more are hanzi (GB2312's hanzi read as Shift-JIS are half-width
katakana and level-2 kanji, so a Chinese name is never a likely Japanese one); then
whichever of cp850 and cp1252 makes more Latin letters (in the right case) (cp850 on a
tie: Western Europe's DOS code page, which reads cp437's letters alike). The result
depends on the bytes alone, so every backend (libarchive, 7zz's listing and log) names
an entry alike. A one-kanji name is misread, so is a name of half-width katakana alone
(its bytes read as GB2312 hanzi too), and so is a short Cyrillic name that reads
as common kanji: what the bytes cannot tell is guessed, never dropped.
"""

from __future__ import annotations

import re
import zipfile

# Hiragana, katakana and CJK ideographs: what a Shift-JIS reading must produce to be
# believed (any byte string of single-byte letters decodes as Shift-JIS too).
_KANA = re.compile("[\u3040-\u30ff]")
_IDEOGRAPH = re.compile("[\u4e00-\u9fff]")
# A byte past ASCII with none beside it; one before a backslash is not alone: 0x5C is
# Shift-JIS's second byte of 表, 能, ソ, 予… (``表紙`` is ``\x95\\\x8e\x86``).
_LONE_HIGH_BYTE = re.compile(rb"(?<![\x80-\xff])[\x80-\xff](?![\x80-\xff\\])")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_CYRILLIC = re.compile("[\u0400-\u045f]")
_CYRILLIC_PAIR = re.compile("[\u0400-\u045f]{2}")
_JIS_LEVEL_2 = b"\x98\x9f"  # Shift-JIS's first kanji past the 2,965 common ones
_HALF_WIDTH_KANA = re.compile("[\uff61-\uff9f]")


def _latin_letters(text: str) -> int:
    """Accented Latin letters, less those in capitals right after a small letter
    (Latin-1's ``é`` is cp850's ``Ú``: ``cafÚ`` is no word)."""
    score = 0
    for before, ch in zip(" " + text[:-1], text, strict=True):
        if "\u00c0" <= ch <= "\u024f" and ch.isalpha():
            score += -1 if ch.isupper() and before.islower() else 1
    return score


def decode_stored_name(raw: bytes, *, on_disk: bool = False) -> str:
    """``raw`` (an entry's stored name, or a line naming one) as text; never raises.
    ``on_disk``: a name from this machine's filesystem, where a tie goes to cp1252
    (a Latin-1 disk), not to an archive's DOS code page. A folder whose own name is
    UTF-8 keeps it when a name below it is not (a Windows zip unzipped into a folder
    made here): only the parts that are not UTF-8 are guessed, read together."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    parts = raw.split(b"/")
    legacy = [part for part in parts if not _is_utf8(part)]
    if len(legacy) < len(parts):
        guessed = _guess(b"/".join(legacy), on_disk).split("/")
        if len(guessed) == len(legacy):  # no byte of them decodes to a slash
            found = iter(guessed)
            return "/".join(
                part.decode("utf-8") if _is_utf8(part) else next(found) for part in parts
            )
    return _guess(raw, on_disk)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _looks_japanese(japanese: str, raw: bytes) -> bool:
    """Kana, or two ideographs and fewer than half as many lone bytes past ASCII."""
    if _CONTROLS.search(japanese):
        return False
    ideographs = len(_IDEOGRAPH.findall(japanese))
    lone = len(_LONE_HIGH_BYTE.findall(raw))
    return bool(_KANA.search(japanese)) or (ideographs >= 2 and 2 * lone < ideographs)


def _rare_in_japanese(japanese: str) -> bool:
    """Half-width katakana, or a kanji past JIS level 1 (Shift-JIS 0x989F and up)."""
    return bool(_HALF_WIDTH_KANA.search(japanese)) or any(
        ch >= "\u4e00" and ch.encode("cp932") >= _JIS_LEVEL_2 for ch in japanese
    )


def _cyrillic(raw: bytes) -> str | None:
    """``raw`` read as cp866 (Russian DOS, what Windows' zip writes there) when that
    reads as Cyrillic words: every byte past ASCII a Cyrillic letter, none beside an
    ASCII letter (Latin names' lone accents: ``M\x81ller`` is ``MБller``) or followed by
    ``@[]^`{|}~``, and no capital after a small letter in a word (Shift-JIS pairs read
    as ``УоЙц``, ``ГПБ[``)."""
    text = raw.decode("cp866")
    before = " "
    for ch, high in zip(text, raw, strict=True):
        if high >= 0x80:
            if not _CYRILLIC.match(ch) or (before.isascii() and before.isalpha()):
                return None
            if ch.isupper() and before.islower():
                return None
        elif 0x40 <= high < 0x7F and high != 0x5F and _CYRILLIC.match(before):
            return None  # a letter or @[]^`{|}~ after one: Shift-JIS's second byte
        before = ch
    return text if _CYRILLIC_PAIR.search(text) else None  # one byte: a Latin accent


def _chinese(raw: bytes) -> str | None:
    """``raw`` read as GBK when it is GB2312 throughout (every byte past ASCII one of a
    pair of 0xA1-0xFE: a Latin name's lone accent is not) with two hanzi or more. A name
    with one of GBK's rarer letters (lead bytes 0x81-0xA0) is not believed Chinese."""
    try:
        strict = raw.decode("gb2312")
    except UnicodeDecodeError:
        return None
    if _CONTROLS.search(strict) or len(_IDEOGRAPH.findall(strict)) < 2:
        return None
    return strict


def _guess(raw: bytes, on_disk: bool) -> str:
    """The legacy code page ``raw`` looks written in (module docstring)."""
    try:
        japanese = raw.decode("cp932")
    except UnicodeDecodeError:
        japanese = ""
    believed = bool(japanese) and _looks_japanese(japanese, raw)
    # Russian read as Shift-JIS gives half-width katakana (cp866's а-п) or kanji from
    # JIS level 2 (its р-я lead there), rare in Japanese names.
    # A name on this disk is not a Windows zip's: no cp866 there.
    unlikely = not believed or _rare_in_japanese(japanese)
    if unlikely and not on_disk and (russian := _cyrillic(raw)) is not None:
        return russian
    if unlikely and (chinese := _chinese(raw)) is not None:
        return chinese
    if believed:
        return japanese
    dos = raw.decode("cp850")
    windows = raw.decode("cp1252", "replace")
    dos_score, windows_score = _latin_letters(dos), _latin_letters(windows)
    if windows_score > dos_score or (on_disk and windows_score == dos_score):
        return windows
    return dos


_UTF8_FLAG = 0x800  # zip's general purpose bit 11: the name is UTF-8


def zip_member_name(member: zipfile.ZipInfo) -> str:
    """A zip member's name as libarchive's reader gives it: ``zipfile`` reads a name
    without the UTF-8 flag as cp437, which is only zip's default (macOS's Archive
    Utility writes UTF-8 without the flag; Windows its OEM code page)."""
    if member.flag_bits & _UTF8_FLAG:
        return member.filename
    return decode_stored_name(member.filename.encode("cp437"))
