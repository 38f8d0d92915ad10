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
double-byte reading does not win by its length. No mutable state: a pure function.
"""

from __future__ import annotations

import unicodedata

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
DISK_CODEPAGES = ("cp1252", *(c for c in ARCHIVE_CODEPAGES if c != "cp1252"))
FALLBACK = "cp437"  # decodes every byte: what a name no candidate reads is read as

_JAPANESE = frozenset({"cp932", "euc_jp"})
# Windows's ANSI code pages, where 0x92 is the apostrophe Word and Explorer type (``’``);
# a DOS page's ``’`` (cp775's 0xEF) is a letter's byte of another page (``naïve``).
_ANSI = frozenset({f"cp{n}" for n in range(1250, 1259)})
_CJK = {"cp932": "ja", "euc_jp": "ja", "cp936": "zh-hans", "cp950": "zh-hant", "cp949": "ko"}

# Each language's most frequent letters (general text and what photo folders are
# called): a reading that makes them is likelier than one making rarer letters of the
# same level.
_FREQUENT = {
    "zh-hans": set(
        "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于"
        "着下自之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进"
        "好小部其些主样理心她本前开但因只从想实照片图相视频影新建文件夹旅游春节聚合婚礼毕业"
        "日快乐海边北京广州深圳微信截屏录像宝儿女爸妈朋友公司议资料备份手机册风景美食"
    ),
    "zh-hant": set(
        "的一是不了在人有我他這個們中來上大為和國地到以說時要就出會可也你對生能而子那得於"
        "著下自之年過發後作裡用道行所然家種事成方多經麼去法學如都同現當沒動面起看定天分還進"
        "好小部其些主樣理心她本前開但因只從想實照片圖相視頻影新建檔案夾旅遊春節聚合婚禮畢業"
        "日快樂海邊台北臺灣高雄香港截錄像寶兒女爸媽朋友公司議資料備份手機簿風景美食"
    ),
    "ja": set(
        "日一人年大十二本中長出三時行見月分後前生五間上東四今金九入学高円子外八六下来気小七"
        "山話女北午百書先名川千水半男西電校語土木聞食車何南万毎白天母火右読友左休父雨写真画"
        "像動旅家族供結婚式卒業誕新規作成京阪都桜花夏冬春秋祭達犬猫記録撮影保存"
    ),
    "ko": set(
        "이다에의는로하을가고지서한은기으년대사시를리도인스일진정자수전제부주장나아여상우해"
        "보화원성관신경구회중소조공비개문동연방무내면마요물세실선미모결유위용과작발생오거국명"
        "금통만식학업행당계강단저들데어그것라영족졸친바울산새폴더본캡처엄빠집교름겨울봄축꽃"
        "강쥐양"
    ),
}
# The frequent letters of the alphabets (about the commonest half of each).
_FREQUENT_LETTERS = set(
    "оеаинтсрвлкмдпуяы"  # Russian
    "αοιετσνηυρπκμλωάέίόύήώ"  # Greek
    "יוהלארתבמנשעכדקםן"  # Hebrew
    "اليمونرتبةعهدسكف"  # Arabic
    "านรอกเงมยลวดทสตะคบหใจขปพไ"  # Thai
)
_VOWELS = set("aeiouyAEIOUYâêôăơưÂÊÔĂƠƯ")
# Thai letters names hardly use (obsolete, Pali/Sanskrit-only, signs, digits), and the
# vowels written before their consonant.
_THAI_RARE = set("ฃฅฆฌฎฏฐฑฒณฬฯๆํ๎๏๐๑๒๓๔๕๖๗๘๙๚๛")
_THAI_LEADING = set("เแโใไ")
# Half-width katakana: those a voicing mark (ﾞ, ﾟ) may follow, and the small ones and
# the long-vowel mark, which never begin a word.
_VOICEABLE = set("ｳｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎ")
_NOT_FIRST = set("ｧｨｩｪｫｬｭｮｯｰﾞﾟ")
_CJK_PUNCTUATION = set("（）【】「」『』、。・～－＿［］＆＋：　！？０１２３４５６７８９")


def script(ch: str) -> str:
    """The script of a letter or mark past ASCII, or "" (a symbol, a digit, a space)."""
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
    return total


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
_BACKSLASH_TRAIL = {
    "cp932": frozenset(range(0x81, 0xA0)) | frozenset(range(0xE0, 0xFD)),
    "cp936": frozenset(range(0x81, 0xFF)),
    "cp950": frozenset(range(0x81, 0xFF)),
}


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
