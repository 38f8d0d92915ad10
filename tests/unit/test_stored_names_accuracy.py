"""How often a legacy name is read as written, per language and code page, for a lone
name (a file on this disk, one line of a tool's output: the name is all the evidence)
and for archives of 3 and 10 names (``tests/support/names_by_language.py``'s corpus;
``python -m tests.support.names_by_language`` prints the table).

Each floor is the share measured when the guess last changed (percent, rounded down):
a change to ``codepages``'s scoring that reads fewer names of any language right fails
here, so that one language's gain is never another's silent loss. Raise a floor when a
change reads more.
"""

from __future__ import annotations

import pytest

from tests.support.names_by_language import CODEPAGES, measure

FLOORS: dict[tuple[str, str], tuple[int, int, int]] = {
    ("ru", "cp866"): (100, 100, 100),
    ("ru", "cp1251"): (96, 100, 100),
    ("uk", "cp866"): (100, 100, 100),
    ("uk", "cp1251"): (100, 100, 100),
    ("bg", "cp866"): (100, 100, 100),
    ("bg", "cp1251"): (100, 100, 100),
    ("pl", "cp852"): (78, 93, 96),
    ("pl", "cp1250"): (90, 96, 100),
    ("cs", "cp852"): (87, 93, 100),
    ("cs", "cp1250"): (87, 93, 90),
    ("hu", "cp852"): (90, 90, 90),
    ("hu", "cp1250"): (90, 90, 93),
    ("sh", "cp852"): (90, 93, 96),
    ("sh", "cp1250"): (93, 96, 100),
    ("tr", "cp857"): (64, 74, 83),
    ("tr", "cp1254"): (67, 74, 96),
    ("el", "cp737"): (90, 100, 100),
    ("el", "cp1253"): (90, 100, 100),
    ("he", "cp862"): (96, 100, 100),
    ("he", "cp1255"): (83, 100, 100),
    ("ar", "cp720"): (93, 100, 100),
    ("ar", "cp1256"): (90, 100, 100),
    ("vi", "cp1258"): (67, 87, 100),
    ("th", "cp874"): (96, 100, 100),
    ("fr", "cp850"): (100, 100, 100),
    ("fr", "cp437"): (100, 100, 100),
    ("fr", "cp1252"): (93, 100, 100),
    ("de", "cp850"): (100, 100, 100),
    ("de", "cp437"): (100, 100, 100),
    ("de", "cp1252"): (96, 100, 100),
    ("es", "cp850"): (100, 100, 100),
    ("es", "cp437"): (100, 100, 100),
    ("es", "cp1252"): (100, 100, 100),
    ("pt", "cp850"): (100, 100, 100),
    ("pt", "cp437"): (100, 100, 100),
    ("pt", "cp1252"): (100, 100, 100),
    ("nordic", "cp850"): (100, 100, 100),
    ("nordic", "cp437"): (100, 100, 100),
    ("nordic", "cp1252"): (100, 100, 100),
    ("ja", "cp932"): (96, 100, 100),
    ("ja-halfwidth", "cp932"): (74, 90, 96),
    ("zh-hans", "cp936"): (77, 93, 93),
    ("zh-hant", "cp950"): (100, 100, 100),
    ("ko", "cp949"): (83, 96, 96),
}


@pytest.fixture(scope="module")
def measured() -> dict[tuple[str, str], tuple[float, float, float]]:
    return measure()


def test_every_language_and_page_has_a_floor() -> None:
    assert set(FLOORS) == {(lang, page) for lang, pages in CODEPAGES.items() for page in pages}


@pytest.mark.parametrize(("language", "codepage"), list(FLOORS))
def test_names_are_read_as_written_at_least_as_often_as_measured(
    measured: dict[tuple[str, str], tuple[float, float, float]], language: str, codepage: str
) -> None:
    got = tuple(round(100 * share, 6) for share in measured[language, codepage])
    floor = FLOORS[language, codepage]
    assert all(g >= f for g, f in zip(got, floor, strict=True)), (
        f"{language} in {codepage}: lone, 3, 10 names read right {got} %, floor {floor}"
    )
