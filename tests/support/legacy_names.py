"""Names as machines that did not write UTF-8 stored them: one list per code page, each
the kind of folder a person there zips (a camera's folder, a holiday, a family).

Several names per code page, as one archive from one machine holds: the decoder reads
them together. Names whose double-byte letters end in 0x5C (a backslash) are in each
code page that has them (Shift-JIS 表 能 予 ソ, Big5 功 許 蓋 餐, GBK's rarer 乗-row).
"""

from __future__ import annotations

import unicodedata

CORPUS: dict[str, list[str]] = {
    "cp437": ["Café_été/photo 01.jpg", "Café_été/photo 02.jpg", "Noël.jpg"],
    "cp850": ["Grüße aus Köln/Straße.jpg", "Ålesund_øy.jpg", "São João/praia.jpg"],
    "cp1252": ["Fête à Nîmes/été.jpg", "straße.jpg", "Señora Núñez.jpg"],
    "cp852": ["Zdjęcia/Wakacje nad morzem.jpg", "Łódź 2019.jpg", "Kraków/Wawel.jpg"],
    "cp1250": ["Zdjęcia/Łódź.jpg", "Dovolená u moře/Kraków.jpg", "Příbram.jpg"],
    "cp866": ["Фото/Море.jpg", "Новая папка/ДСК_0001.JPG", "Отпуск в Сочи (1).mp4"],
    "cp1251": ["Фото/Море.jpg", "Новая папка/Свадьба.jpg", "Отпуск в Сочи (1).mp4"],
    "koi8_r": ["Фото/Море.jpg", "Новая папка/Дача.jpg", "Отпуск летом.jpg"],
    "cp737": ["Φωτογραφίες/Θάλασσα.jpg", "Διακοπές 2019/Κρήτη.jpg", "Γάμος.jpg"],
    "cp1253": ["Φωτογραφίες/Θάλασσα.jpg", "Διακοπές 2019/Κρήτη.jpg", "Γάμος.jpg"],
    "cp862": ["תמונות/ים.jpg", "חופשה 2019/אילת.jpg", "חתונה.jpg"],
    "cp1255": ["תמונות/ים.jpg", "חופשה 2019/אילת.jpg", "חתונה.jpg"],
    "cp720": ["صور/البحر.jpg", "عطلة 2019/دبي.jpg", "زفاف.jpg"],
    "cp1256": ["صور/البحر.jpg", "عطلة 2019/دبي.jpg", "زفاف.jpg"],
    "cp874": ["รูปภาพ/ทะเล.jpg", "วันหยุด 2019/ภูเก็ต.jpg", "งานแต่งงาน.jpg"],
    "cp1258": ["Ảnh/Biển.jpg", "Gia đình/Đà Nẵng.jpg", "Người yêu.jpg"],
    "cp932": ["写真/東京タワー.jpg", "表紙/能力.jpg", "予定表.jpg", "スクリーンショット.png"],
    "cp932-halfwidth": ["ｼｬｼﾝ/ｽｸﾘｰﾝｼｮｯﾄ.jpg", "ﾃﾞｼﾞｶﾒ_001.jpg", "ﾘｮｺｳ.jpg"],
    "euc_jp": ["写真/東京タワー.jpg", "家族旅行2019.jpg", "スクリーンショット.png"],
    "cp936": [
        "照片/春节聚会.jpg",
        "我的照片 2019/家人合影.jpg",
        "新建文件夹/微信图片.jpg",
        "锦鲤/運動會.jpg",  # 運 is GBK 0xDF 0x5C (GBK has the traditional letters too)
    ],
    "cp950": ["照片/家庭旅遊.jpg", "功課/許願.jpg", "畢業典禮/蓋房子.jpg", "台北101.jpg"],
    "cp949": ["사진/가족여행.jpg", "졸업식/단체사진.jpg", "서울 2019.jpg", "새 폴더/한국.jpg"],
}

_TONES = "\u0300\u0301\u0303\u0309\u0323"


def encode(name: str, codepage: str) -> bytes:
    """``name`` as a machine of ``codepage`` stores it (Vietnamese Windows writes the
    tone marks apart, on precomposed â ê ô ă ơ ư)."""
    if codepage == "cp932-halfwidth":
        return name.encode("cp932")
    if codepage != "cp1258":
        return name.encode(codepage)
    out = b""
    for ch in unicodedata.normalize("NFC", name):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
        out += (base + "".join(c for c in parts if c in _TONES)).encode("cp1258")
    return out
