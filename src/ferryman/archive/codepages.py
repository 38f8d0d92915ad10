"""How plausible a legacy code page's reading of an entry name is, as a number.

An archive from a machine that did not write UTF-8 records no code page: the bytes of
``照片`` are Big5 on a Taiwanese Windows, the same bytes are two other hanzi in GBK and
two Hangul syllables in CP949. No single name tells them apart reliably, but one
archive comes from one machine, so ``stored_names.NameDecoder`` adds up this module's
``score`` of every name it meets per candidate, and reads every name with the best.

A reading scores by what text looks like, not by any one fixture: letters of one script
(Han, kana and Hangul count as one: each CJK page's language judges them), in the case
shape of words
(``Фото``, not ``фОТо``), not glued to ASCII letters when they are not Latin (a lone
``\\x81`` in ``M\\x81ller`` is ``ü``, not Cyrillic ``Б``), combining marks on a letter
(Thai, Vietnamese, Hebrew points); box drawing, symbols, controls and private-use
characters cost. CJK letters score by how common they are in the code page's own
language, measured in that language's native code page (GB2312's level 1, Big5's
level 1, JIS level 1, KS X 1001's 2,350 Hangul) plus a bonus for the language's
most frequent letters; a kana in a Chinese or Korean reading is a wrong guess's mark.
Scores count per byte alike (a hanzi is two bytes, a Cyrillic letter one), so a
double-byte reading does not win by its length. A word's spelling counts too, where a
misread byte breaks a language's rule (``_spelling``: Greek's final ς, Hebrew's final
letters, Spanish ñ before a vowel): a lone name has no other name to outvote a reading
that is plausible letter by letter. ``PRIOR`` breaks what is left of a tie by who makes
archives. No mutable state: a pure function.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import pairwise
from types import MappingProxyType

# Candidates in the order a tie goes: zip's own default first (APPNOTE: IBM cp437),
# then Western Windows, then the others. ``on_disk`` prefers cp1252 (see stored_names).
ARCHIVE_CODEPAGES = (
    "cp437",
    "cp850",
    "cp1252",
    "cp852",
    "cp1250",
    "cp857",
    "cp1254",
    "cp775",
    "cp1257",
    "cp1258",
    "cp866",
    "cp1251",
    "koi8_r",
    "cp737",
    "cp1253",
    "cp862",
    "cp1255",
    "cp720",
    "cp1256",
    "cp874",
    "cp932",
    "cp936",
    "cp950",
    "cp949",
    "euc_jp",
)
# A head start per archive (not per name) by who makes archives, for a tie between
# pages whose letters read alike: a lone ``Дача`` (cp866) is as plausible as cp737's
# ``Ειύι``, and Greek's bytes read as Cyrillic, Hebrew and Arabic letters too, whose
# writers far outnumber Greek's. So the Greek pages start half a point behind (measured
# on tests/support/names_by_language.py: a head start for Cyrillic instead turned lone
# Hebrew and Arabic names Cyrillic). Small: a spelling or a second name outweighs it.
PRIOR = MappingProxyType({"cp737": -0.5, "cp1253": -0.5})
DISK_CODEPAGES = ("cp1252", *(c for c in ARCHIVE_CODEPAGES if c != "cp1252"))
FALLBACK = "cp437"  # decodes every byte: what a name no candidate reads is read as

_JAPANESE = frozenset({"cp932", "euc_jp"})
# Windows's ANSI code pages, where 0x92 is the apostrophe Word and Explorer type (``’``);
# a DOS page's ``’`` (cp775's 0xEF) is a letter's byte of another page (``naïve``).
_ANSI = frozenset({f"cp{n}" for n in range(1250, 1259)})
_CJK = MappingProxyType(
    {"cp932": "ja", "euc_jp": "ja", "cp936": "zh-hans", "cp950": "zh-hant", "cp949": "ko"}
)

# Each language's most frequent letters (general text and what photo folders are
# called): a reading that makes them is likelier than one making rarer letters of the
# same level.
_FREQUENT = MappingProxyType(
    {
        "zh-hans": frozenset(
            "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于"
            "着下自之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进"
            "好小部其些主样理心她本前开但因只从想实照片图相视频影新建文件夹旅游春节聚合婚礼毕业"
            "日快乐海边北京广州深圳微信截屏录像宝儿女爸妈朋友公司议资料备份手机册风景美食"
        ),
        "zh-hant": frozenset(
            "的一是不了在人有我他這個們中來上大為和國地到以說時要就出會可也你對生能而子那得於"
            "著下自之年過發後作裡用道行所然家種事成方多經麼去法學如都同現當沒動面起看定天分還進"
            "好小部其些主樣理心她本前開但因只從想實照片圖相視頻影新建檔案夾旅遊春節聚合婚禮畢業"
            "日快樂海邊台北臺灣高雄香港截錄像寶兒女爸媽朋友公司議資料備份手機簿風景美食"
        ),
        "ja": frozenset(
            "日一人年大十二本中長出三時行見月分後前生五間上東四今金九入学高円子外八六下来気小七"
            "山話女北午百書先名川千水半男西電校語土木聞食車何南万毎白天母火右読友左休父雨写真画"
            "像動旅家族供結婚式卒業誕新規作成京阪都桜花夏冬春秋祭達犬猫記録撮影保存"
        ),
        "ko": frozenset(
            "이다에의는로하을가고지서한은기으년대사시를리도인스일진정자수전제부주장나아여상우해"
            "보화원성관신경구회중소조공비개문동연방무내면마요물세실선미모결유위용과작발생오거국명"
            "금통만식학업행당계강단저들데어그것라영족졸친바울산새폴더본캡처엄빠집교름겨울봄축꽃"
            "강쥐양"
        ),
    }
)
# The frequent letters of the alphabets (about the commonest half of each).
_FREQUENT_LETTERS = frozenset(
    "оеаинтсрвлкмдпуяы"  # Russian
    "αοιετσνηυρπκμλωάέίόύήώ"  # Greek
    "יוהלארתבמנשעכדקםן"  # Hebrew
    "اليمونرتبةعهدسكف"  # Arabic
    "านรอกเงมยลวดทสตะคบหใจขปพไ"  # Thai
)
_VOWELS = frozenset("aeiouyAEIOUYâêôăơưÂÊÔĂƠƯ")
# Thai letters names hardly use (obsolete, Pali/Sanskrit-only, signs, digits), and the
# vowels written before their consonant.
_THAI_RARE = frozenset("ฃฅฆฌฎฏฐฑฒณฬฯๆํ๎๏๐๑๒๓๔๕๖๗๘๙๚๛")
_THAI_LEADING = frozenset("เแโใไ")
# Half-width katakana: those a voicing mark (ﾞ, ﾟ) may follow, and the small ones and
# the long-vowel mark, which never begin a word.
_VOICEABLE = frozenset("ｳｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎ")
_NOT_FIRST = frozenset("ｧｨｩｪｫｬｭｮｯｰﾞﾟ")
_CJK_PUNCTUATION = frozenset("（）【】「」『』、。・～－＿［］＆＋：　！？０１２３４５６７８９")


def script(ch: str) -> str:
    """The script of a letter or mark past ASCII, or "" (a symbol, a digit, a space)."""
    o = ord(ch)
    if o < len(_SCRIPTS):
        return _SCRIPTS[o]
    return _script(ch)


def _script(ch: str) -> str:
    """``script`` worked out (``_SCRIPTS`` holds it for the alphabets' code points:
    each name's every letter is asked about once per candidate page)."""
    o = ord(ch)
    if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
        return "hangul"
    if 0x3040 <= o <= 0x30FF or 0xFF66 <= o <= 0xFF9F:
        return "kana"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
        return "han"
    ranges = (
        (0x00C0, 0x024F, "latin"),
        (0x0300, 0x036F, "mark"),
        (0x0370, 0x03FF, "greek"),
        (0x0400, 0x052F, "cyrillic"),
        (0x0590, 0x05FF, "hebrew"),
        (0x0600, 0x06FF, "arabic"),
        (0x0E00, 0x0E7F, "thai"),
        (0x1E00, 0x1EFF, "latin"),
        (0x1F00, 0x1FFF, "greek"),
        (0xFB50, 0xFDFF, "arabic"),
        (0xFE70, 0xFEFF, "arabic"),
    )
    for low, high, name in ranges:
        if low <= o <= high and unicodedata.category(ch)[0] in "LM":
            return name
    return ""


_SCRIPTS = tuple(_script(chr(o)) for o in range(0x2000))  # a constant table


def _group(name: str) -> str:
    """Scripts that share names: Japanese writes kanji with kana, Korean Hanja with Hangul."""
    return "cjk" if name in ("han", "kana", "hangul") else name


def _native_level(ch: str, language: str) -> float:
    """How common a CJK letter is in ``language``, by where its native code page puts
    it: 2 for the common level, 1 for the rarer, 0.5 or less for what names seldom use."""
    kind = script(ch)
    if language == "ja":
        if kind == "kana":
            return 2.5 if ch < "\uff00" else 1.5
        if kind != "han":
            return -2
        code = ch.encode("cp932", "replace")
        return 2 if code < b"\x98\x9f" else 1
    if language == "ko":
        if kind == "hangul":
            if not "\uac00" <= ch <= "\ud7a3":
                return -1  # a lone jamo
            try:
                ch.encode("euc_kr")
            except UnicodeEncodeError:
                return 0.5  # one of UHC's 8,822 rarer syllables
            return 2
        return 0.5 if kind == "han" else -2
    if kind != "han":
        return -2
    try:
        lead = ch.encode("gb2312" if language == "zh-hans" else "big5")[0]
    except UnicodeEncodeError:
        return 0
    if language == "zh-hans":
        return 2 if lead <= 0xD7 else 1
    return 2 if lead <= 0xC6 else 1


def _halfwidth_kana(text: str, at: int) -> float:
    """A half-width katakana in a well-formed run scores as a common letter, per byte;
    a voicing or small mark where none can stand is a wrong reading's."""
    ch = text[at]
    before = text[at - 1] if at else ""
    if ch in _NOT_FIRST and not ("\uff66" <= before <= "\uff9f"):
        return -1
    if ch in "ﾞﾟ" and before not in _VOICEABLE:
        return -1
    return 1.5 if ch in _NOT_FIRST else 1.0


def score(text: str, codepage: str) -> float:
    """How much ``text`` (one name part read in ``codepage``) looks like a name."""
    language = _CJK.get(codepage)
    total = 0.0
    groups: dict[str, int] = {}
    before = " "
    for at, ch in enumerate(text):
        after = text[at + 1] if at + 1 < len(text) else " "
        if ch.isascii():
            if ch == "\\" and not before.isascii() and not language:
                total -= 1.0  # Shift-JIS, Big5, GBK end letters in 0x5C: one was split
            before = ch
            continue
        kind = script(ch)
        category = unicodedata.category(ch)
        if category in ("Cc", "Co", "Cn", "Cs"):
            value = -10.0
        elif kind == "mark":  # Vietnamese tone marks, written apart in cp1258
            value = 1.0 if codepage == "cp1258" and before in _VOWELS else -3.0
        elif category[0] == "M":
            value = 1.0 if script(before) == kind and before not in _THAI_RARE else -3.0
        elif kind == "thai" and (
            ch in _THAI_RARE or (ch in _THAI_LEADING and script(after) != "thai")
        ):
            value = -1.5  # an obsolete letter or a leading vowel with no consonant after
        elif not kind:
            value = 0.5 if language and ch in _CJK_PUNCTUATION else -2.0
            if ch == "’" and codepage in _ANSI and before.isalpha() and after.isalpha():
                value = 1.5  # a typed apostrophe in a word (It’s, José’s): Windows's 0x92
            elif ch in "–—" and codepage in _ANSI and before == " " and after == " ":
                value = 1.5  # a typed dash between words (Brno – Šumava): Windows's 0x96
            elif category == "Zs" or ch in "·«»–—№‘’“”…":
                value = -0.5
        elif language:
            if kind == "kana" and ch >= "\uff00" and language == "ja":
                value = _halfwidth_kana(text, at)
            else:
                value = _native_level(ch, language)
                value += 1.0 if ch in _FREQUENT[language] else 0.0
                glued = _ascii_letter(before) or _ascii_letter(after)
                if glued and (
                    _ascii_trail(ch, codepage) or _ascii_letter(before) == _ascii_letter(after)
                ):
                    value -= 3.0  # inside an ASCII word: a Latin accent and a letter read as one
        else:
            value = _alphabet(ch, kind, before, after)
        if kind and category[0] == "L":
            groups[_group(kind)] = groups.get(_group(kind), 0) + 1
        total += value
        before = ch
    if len(groups) > 1:  # letters of two alphabets in one name: the minority is wrong
        total -= 3.0 * (sum(groups.values()) - max(groups.values()))
    if not language:
        total += _spelling(text, latin=codepage != "cp1258")
    return total


# Latin letters that the languages of the pages reading them as such do not write in
# that place (a Central European or Turkish letter's byte in a Western page): a tie
# between cp1250's ``Gdańsk`` and cp1252's ``Gdañsk`` is broken by Spanish's ñ being
# always before a vowel, not by a preference for either page.
_GREEK_TONOS = frozenset("άέήίόύώΆΈΉΊΌΎΏΐΰ")
_GREEK_VOWELS = frozenset("αεηιουωάέήίόύώ")
_CYRILLIC_VOWELS = frozenset("аеёиоуыэюяіїєўАЕЁИОУЫЭЮЯІЇЄЎ")
_LATIN_VOWELS = frozenset("aeiouyäöüâêîôûàèìòùáéíóú")
_HEBREW_FINAL = frozenset("םןץףך")
_HEBREW_PLAIN = frozenset("מנצפכ")
_LATIN_SIGNS = frozenset("ðÐþÞýÝƒÿñÑßœŒõìòèÈ")
_WORD = re.compile(r"[^\W\d_]+")
_ICELANDIC = frozenset("ðÐþÞýÝ")  # Icelandic's letters only: Turkish ğ ş ı İ, Croatian đ in cp125x


def _spelling(text: str, *, latin: bool) -> float:
    """What one letter next to its neighbours says about an alphabet reading: a Greek
        word ends in ς and never in σ, puts ϊ ϋ only after a vowel and an accent on every
        word of two syllables and more (monotonic spelling), a Russian word has a vowel
    (an abbreviation in capitals, ДСК, need not),
        ñ stands before a vowel, ß after one, œ before u, õ after a consonant; ð þ ý are
        Icelandic's alone; ƒ is a florin sign, not a letter; ÿ begins no word; Hebrew has
        final forms, Arabic ends words in ة ى and begins many with ال. Each such
        sign costs, so that the reading in the page of a language that writes so wins."""
    total = 0.0
    for word in _runs(text):
        kind = script(word[0])
        low = word.lower()
        if kind == "greek":
            total -= 2.0 * (low[-1] == "σ") + 2.0 * ("ς" in low[:-1])
            total -= 2.0 * sum(
                ch in "ϊϋ" and prev not in _GREEK_VOWELS for prev, ch in pairwise(low)
            )
            if len(word) >= 4 and word != word.upper() and not _GREEK_TONOS & set(word):
                total -= 2.0
        elif kind == "cyrillic":
            if len(word) >= 3 and word != word.upper() and not _CYRILLIC_VOWELS & set(word):
                total -= 2.0
            if low[0] in "ьъы" or any(
                ch in "ьъы" and prev in _CYRILLIC_VOWELS for prev, ch in pairwise(low)
            ):
                total -= 2.0
        elif kind == "hebrew":
            total += _hebrew_finals(word)
        elif kind == "arabic":
            total += 1.0 * word.startswith("ال") + 1.0 * (word[-1] in "ةى")
            total -= 2.0 * sum(ch in "ةى" for ch in word[:-1])
        elif latin:  # not Vietnamese's: its è ì ò stand anywhere
            total -= _latin_misspelt(word)
    return total


def _hebrew_finals(word: str) -> float:
    """Hebrew writes five letters in another form at a word's end (ם ן ץ ף ך for מ נ צ
    פ כ): a final form that ends the word is Hebrew's own mark, one inside it or a plain
    form at the end is a wrong reading's."""
    value = 0.5 if word[-1] in _HEBREW_FINAL else -1.5 if word[-1] in _HEBREW_PLAIN else 0.0
    return value - 2.0 * sum(ch in _HEBREW_FINAL for ch in word[:-1])


def _latin_misspelt(word: str) -> float:
    """The cost of a Western letter where Western languages do not write it."""
    if _LATIN_SIGNS.isdisjoint(word):
        return 0.0
    cost = 0.0
    for at, ch in enumerate(word):
        before = word[at - 1].lower() if at else ""
        after = word[at + 1].lower() if at + 1 < len(word) else ""
        misplaced = (
            ch in _ICELANDIC
            or ch in "ƒÿ"
            or (ch in "ñÑ" and after not in _LATIN_VOWELS)  # Gdañsk: Polish ń
            or (ch == "ß" and before not in _LATIN_VOWELS)  # Nyßr: cp437's á
            or (ch in "œŒ" and after != "u")  # Œwinoujœcie: Polish Ś ś
            or (ch == "õ" and before in _LATIN_VOWELS)  # Esküvõ: Hungarian ő
            # French è is before a mute e (père, Genève): Koèka is Czech Kočka
            or (ch in "èÈ" and _vowel_after(word, at) not in ("e", ""))
        )
        if misplaced:
            cost += 1.5
        elif ch in "ìò" and (after.isalpha() or before in "aeo"):
            cost += 1.0  # Italian's ì ò end a word after a consonant (così, però): Czech ě ň
            # stand inside words and after vowels (dědeček, Plzeň)
    return cost


def _vowel_after(word: str, at: int) -> str:
    """The first vowel after ``word[at]`` ("" at the word's end)."""
    for ch in word[at + 1 :].lower():
        if ch in _LATIN_VOWELS:
            return ch
    return ""


def _runs(text: str) -> list[str]:
    """The words of ``text`` that have letters past ASCII (runs of letters)."""
    return [word for word in _WORD.findall(text) if not word.isascii()]


def _ascii_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _ascii_trail(ch: str, codepage: str) -> bool:
    """Whether a double-byte letter's second byte is ASCII (it may be a letter's)."""
    return ch.encode(codepage, "replace")[-1] < 0x80


def _alphabet(ch: str, kind: str, before: str, after: str) -> float:
    """A letter of an alphabet (one byte): a capital right after a small letter is no
    word's, and a non-Latin letter glued to an ASCII letter, or alone, is a Latin
    accent misread (``M\\x81ller`` is no ``MБller``, ``fold_\\xe9`` no ``fold_Θ``). A capital
    between a capital and a small letter is no word's either: ``S\\xe3o`` is cp1252's
    ``São``, not cp850's ``SÒo``."""
    value = 1.5 if ch.lower() in _FREQUENT_LETTERS else 1.0
    if kind != "latin":
        if _ascii_letter(before) or _ascii_letter(after):
            value -= 2.5
        elif script(before) != kind and script(after) != kind:
            value -= 1.5
    if ch.isupper() and before.isupper() and not before.isascii():
        value -= 0.25  # WORDS IN CAPITALS are rarer than words
    if kind == "latin" and script(before) == "latin":
        value -= 1.0  # accents come one at a time in Western words (not ``Ôîòî``)
    if ch.isupper() and (before.islower() or (_ascii_letter(before) and after.islower())):
        value -= 3.0  # a capital inside a word (``SÒo``: cp850's reading of ``São``)
    elif before.isupper() and ch.islower() and not before.isascii():
        value += 0.25  # Capitalised word
    return value


def decoded(raw: bytes, codepage: str) -> str | None:
    """``raw`` read in ``codepage``, or None when it is not valid there."""
    try:
        text = raw.decode(codepage)
    except UnicodeDecodeError:
        return None
    if codepage == "cp1258":  # Vietnamese Windows writes tone marks apart: join them
        text = unicodedata.normalize("NFC", text)
    return text


# Code pages whose second byte of a letter can be 0x5C (a backslash), and their first
# bytes. A tool that turned a Windows name's backslashes into slashes (7zz reading an
# LHA or a DOS-made zip) split such a letter in two: ``表紙`` came out ``\x95/\x8e\x86``.
_BACKSLASH_TRAIL = MappingProxyType(
    {
        "cp932": frozenset(range(0x81, 0xA0)) | frozenset(range(0xE0, 0xFD)),
        "cp936": frozenset(range(0x81, 0xFF)),
        "cp950": frozenset(range(0x81, 0xFF)),
    }
)


def rejoin(raw: bytes, codepage: str) -> bytes:
    """``raw`` with each slash that follows a first byte of ``codepage`` back to the
    0x5C it was (a slash is never a second byte: the letter was split)."""
    leads = _BACKSLASH_TRAIL.get(codepage)
    if leads is None or b"/" not in raw:
        return raw
    out = bytearray()
    at = 0
    while at < len(raw):
        byte = raw[at]
        out.append(byte)
        if byte in leads and at + 1 < len(raw):
            out.append(0x5C if raw[at + 1] == 0x2F else raw[at + 1])
            at += 1
        at += 1
    return bytes(out)


def legacy_parts(raw: bytes) -> list[bytes]:
    """The parts of a path that are not UTF-8: only those are guessed."""
    found = []
    for part in raw.split(b"/"):
        try:
            part.decode("utf-8")
        except UnicodeDecodeError:
            found.append(part)
    return found


def scores(raw: bytes, codepages: tuple[str, ...]) -> list[float]:
    """Each candidate's score of one stored name; a part a candidate cannot read
    costs it per byte."""
    out = []
    for codepage in codepages:
        total = 0.0
        for part in legacy_parts(rejoin(raw, codepage)):
            try:  # scored as written (cp1258's tone marks apart), read composed
                text = part.decode(codepage)
            except UnicodeDecodeError:
                total -= 4.0 * len(part)
                continue
            total += score(text, codepage)
        out.append(total)
    return out
