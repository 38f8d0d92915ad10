"""The ``Range`` header a Telegram-stored link is asked with (``web/telegram_links``): what
comes in is a client's, so any text gives a range inside the file, the whole file, or
``link.range``; and the blocks a range needs are exactly those that hold its bytes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faketg.handlers.downloads import check_window
from ferryman.errors import FerrymanError
from ferryman.telegram.stream import BLOCK, HEAD, pieces_of
from ferryman.web.telegram_links import parse_range, spans_of


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=2-5", 10, (2, 5)),
        ("bytes=2-", 10, (2, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=4-99", 10, (4, 9)),
        ("bytes=5-2", 10, None),  # invalid: the whole file
        ("bytes=0-1,4-5", 10, None),  # several: the whole file
        ("items=0-1", 10, None),
        ("bytes=-", 10, None),
    ],
)
def test_ranges(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=10-20", "bytes=-0"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(FerrymanError) as caught:
        parse_range(header, 10)
    assert caught.value.code == "link.range"


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(max_size=40), st.integers(min_value=1, max_value=10**12))
def test_any_header_gives_a_range_inside_or_the_whole_or_link_range(header: str, size: int) -> None:
    try:
        found = parse_range(header, size)
    except FerrymanError as exc:
        assert exc.code == "link.range"
        return
    if found is not None:
        start, end = found
        assert 0 <= start <= end < size


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    st.integers(min_value=0, max_value=50 * BLOCK), st.integers(min_value=0, max_value=3 * BLOCK)
)
def test_the_pieces_of_a_range_hold_its_bytes_within_telegrams_rules(
    start: int, length: int
) -> None:
    end = start + length
    pieces = pieces_of(start, end)
    assert pieces[0][0] <= start < pieces[0][0] + pieces[0][1]
    assert pieces[-1][0] <= end < pieces[-1][0] + pieces[-1][1]
    for (offset, limit), (after, _) in itertools.pairwise(pieces):
        assert offset + limit == after  # no gap, no overlap
    for offset, limit in pieces:
        check_window(offset, limit, precise=False)  # the fake's reading of Telegram's rules
    first_block = pieces[0][0] // BLOCK
    assert all(limit == HEAD for offset, limit in pieces if offset // BLOCK == first_block)
    assert all(limit == BLOCK for offset, limit in pieces if offset // BLOCK > first_block)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6), st.data())
def test_the_spans_of_a_range_of_joined_pieces_hold_exactly_its_bytes(
    sizes: list[int], data: st.DataObject
) -> None:
    """A file cut into pieces is served as one: the pieces' spans a range is read from,
    joined, are that range of the whole."""
    whole = bytes(range(sum(sizes)))
    pieces, at = [], 0
    for size in sizes:
        pieces.append(whole[at : at + size])
        at += size
    start = data.draw(st.integers(min_value=0, max_value=len(whole) - 1))
    end = data.draw(st.integers(min_value=start, max_value=len(whole) - 1))
    spans = spans_of(sizes, start, end)
    assert [n for n, _, _ in spans] == sorted({n for n, _, _ in spans})  # in order, once
    assert all(0 <= low <= high < sizes[n] for n, low, high in spans)
    assert b"".join(pieces[n][low : high + 1] for n, low, high in spans) == whole[start : end + 1]
