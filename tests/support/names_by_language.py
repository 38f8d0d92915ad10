"""A measurement corpus for the legacy-name guess: per language, the photo and video
names people give (a holiday, a family, a place, a camera's file in a named folder),
and the code pages DOS and Windows zip tools of that language write them in (the OEM
page of Explorer's "Send to compressed folder", the ANSI page of other tools).

``tests/support/legacy_names.py`` holds a few names per page for the decoder's tests;
this one holds 30+ per language so that an accuracy can be measured per language, for
a lone name (the hardest: one name is all the evidence) and for small archives, where
the per-archive guess has more to go on (``accuracy``). Names a page cannot write
(Ukrainian і in cp866, Portuguese ã in cp437) are left out of that page's count.
"""

from __future__ import annotations

from ferryman.archive.stored_names import NameDecoder, decode_stored_name
from tests.support.legacy_names import encode

# One string per language: "|" between the phrases people name folders and files with.
_PHRASES: dict[str, str] = {
    "ru": "Дача 2019|Фото|Море|Новая папка|Отпуск в Сочи|Свадьба Маши и Пети|Новый год|"
    "День рождения мамы|Выпускной|Мой ребёнок|Кот Васька|Прогулка в парке|Москва|"
    "Санкт-Петербург|Юбилей бабушки|Зима|Лето на даче|Рыбалка|Шашлыки|Поход в горы|"
    "Школа|Корпоратив|Крым 2018|Видео с телефона|Семья|Сад и огород|Путешествие|"
    "Собака|Весна|Осень в лесу|Снимки|Концерт",
    "uk": "Фото|Відпустка|Весілля|Новий рік|День народження|Київ|Львів|Карпати|Море в "
    "Одесі|Дача|Родина|Діти|Випускний|Зима|Літо|Осінь|Весна|Бабуся і дідусь|Наш кіт|"
    "Подорож|Хрестини|Свято|Школа|Мій телефон|Прогулянка|Ювілей|Сад|Річка Дніпро|"
    "Нова папка|Знімки|Відео",
    "bg": "Снимки|Море|Почивка|Сватба|Нова година|Рожден ден|София|Пловдив|Варна|Бургас|"
    "Семейство|Деца|Баба и дядо|Зима|Лято|Есен|Пролет|Планина|Рила|Екскурзия|Абитуриентски|"
    "Коледа|Великден|Нова папка|Разходка|Вила|Куче|Котка|Кръщене|Юбилей|Видео",
    "pl": "Zdjęcia|Wakacje nad morzem|Łódź|Kraków|Gdańsk|Świnoujście|Wesele Ani i Tomka|"
    "Boże Narodzenie|Wielkanoc|Urodziny mamy|Rodzina|Dzieci|Góry|Zakopane|Jezioro|"
    "Wycieczka|Działka|Komunia|Chrzciny|Sylwester|Ślub|Zima|Jesień|Wiosna|Lato|Pies|"
    "Nowy folder|Wrocław|Poznań|Szkoła|Spacer w lesie|Mój telefon",
    "cs": "Dovolená u moře|Příbram|Plzeň|Brno|Praha|Šumava|Krkonoše|Vánoce|Velikonoce|"
    "Narozeniny|Svatba|Rodina|Děti|Babička a dědeček|Chata|Zahrada|Výlet|Hory|Zima|Léto|"
    "Podzim|Jaro|Škola|Pes|Kočka|Nová složka|Fotky z mobilu|Ostrava|České Budějovice|"
    "Procházka|Oslava|Brno – Šumava",
    "hu": "Nyaralás|Balaton|Budapest|Esküvő|Karácsony|Húsvét|Születésnap|Család|Gyerekek|"
    "Nagymama|Kirándulás|Tél|Nyár|Ősz|Tavasz|Iskola|Kutya|Macska|Új mappa|Szeged|Debrecen|"
    "Pécs|Győr|Balaton – Tihany|Hegyek|Tó|Kert|Ballagás|Szilveszter|Fényképek|Videók|Sétálás",
    "sh": "Ljetovanje|More|Vjenčanje|Božić|Uskrs|Rođendan|Obitelj|Djeca|Baka i djed|Izlet|"
    "Planine|Zima|Ljeto|Jesen|Proljeće|Škola|Pas|Mačka|Nova mapa|Zagreb|Split|Dubrovnik|"
    "Rijeka|Ljubljana|Bled|Piran|Počitnice|Poroka|Družina|Otroci|Šolski izlet|Slike",
    "tr": "Tatil|Düğün|Doğum günü|Aile|Çocuklar|Babaannem|İstanbul|İzmir|Antalya|Ankara|"
    "Kapadokya|Yeni klasör|Bayram|Yılbaşı|Kış|Yaz|Sonbahar|İlkbahar|Okul|Köpek|Kedi|"
    "Mezuniyet|Nişan|Deniz kenarı|Gezi|Fotoğraflar|Videolar|Bahçe|Köy|Kardeşim|Şehir",
    "el": "Φωτογραφίες|Θάλασσα|Διακοπές|Κρήτη|Γάμος|Βάπτιση|Πάσχα|Χριστούγεννα|Γενέθλια|"
    "Οικογένεια|Παιδιά|Γιαγιά|Αθήνα|Θεσσαλονίκη|Σαντορίνη|Νάξος|Χωριό|Καλοκαίρι|Χειμώνας|"
    "Φθινόπωρο|Άνοιξη|Σχολείο|Σκύλος|Γάτα|Νέος φάκελος|Εκδρομή|Βουνό|Πάρτι|Βίντεο|Αποφοίτηση|"
    "Ρόδος",
    "he": "תמונות|ים|חופשה|אילת|חתונה|בר מצווה|יום הולדת|משפחה|ילדים|סבתא|ירושלים|"
    "תל אביב|חיפה|טיול|צבא|פסח|חנוכה|ראש השנה|קיץ|חורף|בית ספר|כלב|חתול|תיקייה חדשה|"
    "סיום|גן|הכנרת|נופש|ברית|סרטון|טיול שנתי",
    "ar": "صور|البحر|عطلة|دبي|زفاف|عيد ميلاد|العائلة|الأطفال|جدتي|القاهرة|الرياض|"
    "مكة|رمضان|عيد الفطر|عيد الأضحى|الصيف|الشتاء|المدرسة|تخرج|رحلة|حفلة|مجلد جديد|"
    "فيديو|الحديقة|البيت|أصدقاء|عمان|بيروت|الإسكندرية|خطوبة|سفر",
    "vi": "Ảnh|Biển|Gia đình|Đà Nẵng|Người yêu|Hà Nội|Sài Gòn|Huế|Hội An|Đám cưới|Tết|"
    "Sinh nhật|Con gái|Bà ngoại|Du lịch|Mùa hè|Mùa đông|Trường học|Tốt nghiệp|Chó|Mèo|"
    "Thư mục mới|Phú Quốc|Sapa|Nha Trang|Đi chơi|Bạn bè|Quê hương|Hạ Long|Vũng Tàu|Video",
    "th": "รูปภาพ|ทะเล|วันหยุด|ภูเก็ต|งานแต่งงาน|วันเกิด|ครอบครัว|ลูก|คุณยาย|"
    "กรุงเทพ|เชียงใหม่|พัทยา|สงกรานต์|ปีใหม่|หน้าร้อน|โรงเรียน|รับปริญญา|สุนัข|แมว|"
    "โฟลเดอร์ใหม่|เที่ยว|เพื่อน|บ้าน|สวน|วิดีโอ|ทำบุญ|ภูเขา|น้ำตก|เกาะสมุย|ตลาดน้ำ|กระบี่",
    "fr": "Vacances d'été|Noël|Fête à Nîmes|Mariage de Léa|Anniversaire|Famille|Enfants|"
    "Grand-mère|Été 2019|Côte d'Azur|Bretagne|Nouveau dossier|Photos de l'école|Pâques|"
    "Randonnée|Montagne|Forêt|Château|Café|Soirée|Réveillon|Baptême|Chien|Chat|Plage|"
    "Marché de Noël|Rentrée|Séjour à Genève|Crêpes|Hôtel|Fêtes",
    "de": "Grüße aus Köln|Urlaub|Straße|Hochzeit|Geburtstag|Familie|Kinder|Oma und Opa|"
    "Weihnachten|Ostern|Sommer|Winter|Frühling|Herbst|München|Düsseldorf|Nürnberg|"
    "Schule|Hund|Katze|Neuer Ordner|Ausflug|Wanderung|Berge|Bodensee|Schöne Tage|Garten|"
    "Silvester|Österreich|Übersicht|Fußball|Sommer — Rügen",
    "es": "Señora Núñez|Vacaciones|Boda|Cumpleaños|Familia|Niños|Abuela|Navidad|"
    "Semana Santa|Verano|Invierno|Otoño|Primavera|Playa|Montaña|Málaga|Córdoba|León|"
    "Cádiz|Nueva carpeta|Excursión|Perro|Gato|Graduación|Comunión|Bautizo|Año nuevo|"
    "Jardín|Fotos del móvil|Fiesta|Viaje a Perú",
    "pt": "São João|Férias|Praia|Casamento|Aniversário|Família|Crianças|Avó|Natal|Páscoa|"
    "Verão|Inverno|Outono|Primavera|Lisboa|Porto|Algarve|São Paulo|Nova pasta|Passeio|"
    "Cão|Gato|Formatura|Batizado|Ano novo|Jardim|Fotos do telemóvel|Festa|Viagem|Montanha|"
    "Açores",
    "nordic": "Ålesund|Sommer på hytta|Jul|Påske|Bryllup|Bursdag|Familie|Barna|Bestemor|"
    "Fjellet|Tromsø|Bergen|København|Göteborg|Malmö|Semester|Midsommar|Vinter|Høst|"
    "Vår|Skole|Hund|Katt|Ny mappe|Tur i skogen|Søndag|Sjøen|Hytta|Ærø|Åre|Dyr",
    "ja": "写真|東京タワー|旅行|家族|結婚式|誕生日|卒業式|子供|おばあちゃん|京都|大阪|"
    "北海道|沖縄|お正月|夏休み|冬|春|秋|花見|学校|犬|猫|新しいフォルダー|運動会|動画|"
    "スクリーンショット|入学式|海水浴|お祭り|七五三|富士山",
    "ja-halfwidth": "ｼｬｼﾝ|ｽｸﾘｰﾝｼｮｯﾄ|ﾃﾞｼﾞｶﾒ|ﾘｮｺｳ|ｶｿﾞｸ|ﾀﾝｼﾞｮｳﾋﾞ|ｹｯｺﾝｼｷ|ｿﾂｷﾞｮｳ|ﾅﾂﾔｽﾐ|"
    "ｵｼｮｳｶﾞﾂ|ﾄｳｷｮｳ|ｷｮｳﾄ|ｵｵｻｶ|ｲﾇ|ﾈｺ|ｶﾞｯｺｳ|ﾊﾅﾋﾞ|ｳﾐ|ﾔﾏ|ｺﾄﾞﾓ|ﾄﾞｳｶﾞ|ﾊﾟｰﾃｨｰ|ﾃﾞｰﾄ|"
    "ﾄﾞﾗｲﾌﾞ|ｷｬﾝﾌﾟ|ｽｷｰ|ｻｸﾗ|ﾏﾂﾘ|ﾆｭｳｶﾞｸ|ｱﾙﾊﾞﾑ|ｼﾝｺﾝﾘｮｺｳ",
    "zh-hans": "照片|春节聚会|我的照片|家人合影|新建文件夹|微信图片|旅游|北京|上海|广州|"
    "婚礼|生日|毕业典礼|孩子|奶奶|国庆|中秋节|夏天|冬天|学校|小狗|小猫|视频|海边|长城|"
    "西湖|公司年会|同学聚会|老家|宝宝满月|截图",
    "zh-hant": "照片|家庭旅遊|功課|許願|畢業典禮|台北|高雄|香港|婚禮|生日|孩子|奶奶|"
    "春節|中秋節|夏天|冬天|學校|小狗|小貓|影片|海邊|阿里山|日月潭|公司尾牙|同學會|"
    "新增資料夾|寶寶滿月|墾丁|花蓮|畢業旅行|蓋房子",
    "ko": "사진|가족여행|졸업식|단체사진|서울|부산|제주도|결혼식|생일|아이들|할머니|"
    "설날|추석|여름휴가|겨울|봄|가을|학교|강아지|고양이|새 폴더|동영상|바다|등산|"
    "돌잔치|캠핑|친구들|회사 워크샵|벚꽃|경주|스크린샷",
}

# The code pages each language's DOS and Windows tools write names in: the OEM page
# (Explorer's zip folders) first, then the ANSI page (WinRAR's and 7-Zip's older zips,
# tars from Windows ports).
CODEPAGES: dict[str, tuple[str, ...]] = {
    "ru": ("cp866", "cp1251"),
    "uk": ("cp866", "cp1251"),
    "bg": ("cp866", "cp1251"),
    "pl": ("cp852", "cp1250"),
    "cs": ("cp852", "cp1250"),
    "hu": ("cp852", "cp1250"),
    "sh": ("cp852", "cp1250"),
    "tr": ("cp857", "cp1254"),
    "el": ("cp737", "cp1253"),
    "he": ("cp862", "cp1255"),
    "ar": ("cp720", "cp1256"),
    "vi": ("cp1258",),
    "th": ("cp874",),
    "fr": ("cp850", "cp437", "cp1252"),
    "de": ("cp850", "cp437", "cp1252"),
    "es": ("cp850", "cp437", "cp1252"),
    "pt": ("cp850", "cp437", "cp1252"),
    "nordic": ("cp850", "cp437", "cp1252"),
    "ja": ("cp932",),
    "ja-halfwidth": ("cp932",),
    "zh-hans": ("cp936",),
    "zh-hant": ("cp950",),
    "ko": ("cp949",),
}

# How a phrase becomes a stored name: a photo named after it, a camera's file in a
# folder named after it, a video, a numbered copy, a dated folder.
_FORMS = (
    "{}.jpg",
    "{}/IMG_{:04d}.JPG",
    "{}.mp4",
    "{} ({}).jpg",
    "2019 {}/DSC{:05d}.jpg",
    "{}/{}.jpg",
)


def names(language: str) -> list[str]:
    """The language's names, each phrase in one of the forms (by its place)."""
    out = []
    for at, phrase in enumerate(_PHRASES[language].split("|")):
        form = _FORMS[at % len(_FORMS)]
        if form == "{}/{}.jpg":
            other = _PHRASES[language].split("|")[(at + 7) % 30]
            out.append(form.format(phrase, other))
        else:
            out.append(form.format(phrase, 100 + at * 37))
    return out


def stored(language: str, codepage: str) -> list[tuple[str, bytes]]:
    """(name, its stored bytes) for each of the language's names ``codepage`` writes."""
    out = []
    for name in names(language):
        try:
            out.append((name, encode(name, codepage)))
        except UnicodeEncodeError:
            continue
    return out


def measure() -> dict[tuple[str, str], tuple[float, float, float]]:
    """Per (language, code page): the share of names read as written when each is
    alone, and in archives of 3 and of 10 of the language's names (consecutive)."""
    out = {}
    for language, codepages in CODEPAGES.items():
        for codepage in codepages:
            pairs = stored(language, codepage)
            row = [sum(decode_stored_name(raw) == name for name, raw in pairs) / len(pairs)]
            for size in (3, 10):
                right = 0
                for at in range(0, len(pairs), size):
                    chunk = pairs[at : at + size]
                    decoder = NameDecoder([raw for _, raw in chunk])
                    right += sum(decoder.decode(raw) == name for name, raw in chunk)
                row.append(right / len(pairs))
            out[language, codepage] = (row[0], row[1], row[2])
    return out


if __name__ == "__main__":  # the table: python -m tests.support.names_by_language
    table = measure()
    print("| language | code page | lone | 3 | 10 |\n| --- | --- | --- | --- | --- |")
    for (language, codepage), row in table.items():
        print(f"| {language} | {codepage} | " + " | ".join(f"{v:.0%}" for v in row) + " |")
    print(
        "| all | | "
        + " | ".join(f"{sum(r[i] for r in table.values()) / len(table):.1%}" for i in range(3))
        + " |"
    )
