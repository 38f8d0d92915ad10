"""The pipeline's pure decisions (``ferryman.rules``): albums sealed, jobs' outcomes."""

from __future__ import annotations

import pytest

from ferryman.model import AlbumGroup, ItemState, JobState, MediaKind, Plan
from ferryman.rules.outcomes import ItemFact, Outcome, job_outcome, skip_words
from ferryman.rules.sealing import ReadyItem, albums_to_seal, split_alone


def _photos(n: int, start: int = 1) -> list[ReadyItem]:
    return [ReadyItem(start + i, MediaKind.PHOTO, Plan.AS_IS) for i in range(n)]


def _seal(
    items: list[ReadyItem],
    size: int,
    *,
    read_done: bool = True,
    blocked: bool = False,
    now: float = 30.0,  # the items ready since 0 unless told: within the wait
    wait: float = 60.0,
) -> list[tuple[AlbumGroup, list[int]]]:
    return albums_to_seal(items, size, read_done=read_done, blocked=blocked, now=now, wait=wait)


def _converting(item_id: int) -> ReadyItem:
    return ReadyItem(item_id, MediaKind.VIDEO, Plan.TRANSCODE, f"v{item_id}.mkv", pending=True)


def _in_order(*items: ReadyItem) -> list[ReadyItem]:
    return sorted(items, key=lambda it: it.id)  # the ids are the archive order here


def test_full_albums_seal_at_once_and_a_partial_one_waits_while_reading() -> None:
    chosen = _seal(_photos(13), 5, read_done=False)
    assert chosen == [(AlbumGroup.VISUAL, [1, 2, 3, 4, 5]), (AlbumGroup.VISUAL, [6, 7, 8, 9, 10])]


def test_a_partial_album_goes_once_reading_ended_or_is_blocked() -> None:
    for read_done, blocked in ((True, False), (False, True)):
        chosen = _seal(_photos(3), 5, read_done=read_done, blocked=blocked)
        assert chosen == [(AlbumGroup.VISUAL, [1, 2, 3])]


def test_groups_are_sealed_apart_in_group_order() -> None:
    ready = [ReadyItem(1, MediaKind.AUDIO, Plan.AS_IS), *_photos(2, start=2)]
    chosen = _seal(ready, 10)
    assert [group for group, _ in chosen] == [AlbumGroup.VISUAL, AlbumGroup.AUDIO]
    assert [ids for _, ids in chosen] == [[2, 3], [1]]


def test_an_album_waits_for_the_conversions_in_its_place() -> None:
    """Changed: the ready items once went ahead of a conversion in their album (a
    partial album sealed without it, a full one of whatever was ready), so 19 files of
    which some converted arrived as 10, 1 and 8. An album's members are now chosen in
    archive order among the items that will be delivered, converting ones included: it
    waits for them, and reading blocked for room waits too (bounded, below)."""
    photos = [it for it in _photos(19) if it.id not in (3, 6, 15)]
    items = _in_order(*photos, _converting(3), _converting(6), _converting(15))
    assert _seal(items, 10) == []  # the first album waits for 3 and 6; the second behind it
    assert _seal(items, 10, blocked=True, read_done=False) == []
    done = [it._replace(pending=False) if it.id in (3, 6) else it for it in items]
    assert _seal(done, 10) == [(AlbumGroup.VISUAL, list(range(1, 11)))]  # 15 still converts
    rest = [it._replace(pending=False) for it in done if it.id > 10]
    assert _seal(rest, 10) == [(AlbumGroup.VISUAL, list(range(11, 20)))]  # 10 + 9 in order


def test_an_album_without_conversions_goes_ahead_of_a_later_one_s() -> None:
    items = _in_order(*_photos(12), _converting(13))
    assert _seal(items, 10) == [(AlbumGroup.VISUAL, list(range(1, 11)))]
    assert _seal(items, 10, read_done=False) == [(AlbumGroup.VISUAL, list(range(1, 11)))]


def test_a_slow_conversion_holds_its_album_only_up_to_the_wait() -> None:
    """The wait counts from when the album's other items were all ready (``since``),
    in the store's clock: past it the album goes without the conversion, filled from
    later items in order, and the converting item follows in a later album."""
    photos = [it._replace(since=40.0 if it.id == 4 else 10.0) for it in _photos(12)]
    items = _in_order(*[it for it in photos if it.id != 2], _converting(2))
    assert _seal(items, 10, now=99.0, wait=60.0) == []  # item 4 ready at 40: 59 s so far
    went = _seal(items, 10, now=100.0, wait=60.0)
    assert went == [
        (AlbumGroup.VISUAL, [1, *range(3, 12)]),  # without 2, filled up with 11
        (AlbumGroup.VISUAL, [12]),  # the input is read: the last one goes too
    ]
    assert _seal(items, 10, now=40.0, wait=0.0)[0] == (AlbumGroup.VISUAL, [1, *range(3, 12)])


def test_an_album_of_conversions_alone_waits_for_them() -> None:
    """Nothing ready to count a wait from: an album wholly converting has nothing to
    send without them."""
    assert _seal([_converting(1), _converting(2)], 10, wait=0.0) == []


def test_a_live_photo_s_converting_clip_keeps_its_still_beside_it() -> None:
    still = ReadyItem(1, MediaKind.PHOTO, Plan.AS_IS, "DCIM/IMG_0001.HEIC", since=10.0)
    clip = ReadyItem(2, MediaKind.VIDEO, Plan.TRANSCODE, "DCIM/IMG_0001.MOV", pending=True)
    assert _seal([still, clip], 10) == []  # the pair waits whole
    assert _seal([still, clip], 10, now=71.0) == [(AlbumGroup.VISUAL, [1])]  # past the wait


def test_a_split_album_sends_every_item_not_ended_alone() -> None:
    assert split_alone([4, 5, 6], {5}) == [4, 6]


def _fact(state: ItemState, code: str | None = None, message: str | None = None) -> ItemFact:
    return ItemFact(state, code, None, message)


def test_a_clean_run_is_done_without_a_code() -> None:
    assert job_outcome(None, [_fact(ItemState.DELIVERED)] * 3) == (JobState.DONE, None, None)


def test_a_job_holding_its_own_code_failed() -> None:
    assert job_outcome("source.unreadable", [_fact(ItemState.DELIVERED)]).state is JobState.FAILED


def test_failed_items_carry_their_most_common_code() -> None:
    facts = [
        _fact(ItemState.DELIVERED),
        _fact(ItemState.FAILED, "sink.io", "disk full"),
        _fact(ItemState.FAILED, "sink.io", "again"),
        _fact(ItemState.FAILED, "media.bad", "bad"),
    ]
    outcome = job_outcome(None, facts)
    assert (outcome.state, outcome.error_code) == (JobState.DONE, "sink.io")
    assert outcome.error_message == "3 failed, 1 delivered: disk full"
    nothing = job_outcome(None, facts[1:])
    assert nothing.state is JobState.FAILED


def test_quarantined_items_make_a_partial_delivery_or_a_failure() -> None:
    kept = _fact(ItemState.QUARANTINED, "telegram.media_rejected", "refused")
    partly = job_outcome(None, [kept, _fact(ItemState.DELIVERED)])
    assert (partly.state, partly.error_code) == (JobState.DONE, "job.partly_delivered")
    assert partly.error_message is not None and "1 file of 2 not delivered" in partly.error_message
    alone = job_outcome(None, [kept])
    assert (alone.state, alone.error_code) == (JobState.FAILED, "telegram.media_rejected")


def test_nothing_delivered_says_why() -> None:
    skipped = ItemFact(ItemState.SKIPPED, None, "not_media", None)
    clutter = ItemFact(ItemState.SKIPPED, None, "junk", None)
    outcome = job_outcome(None, [skipped, clutter, skipped])
    assert (outcome.state, outcome.error_code) == (JobState.DONE, "source.nothing_delivered")
    assert outcome.error_message == (  # words, not the codes "not_media" or "junk"
        "nothing was delivered: no photo or video in it"
        " (2 skipped: not a photo or video; 1 skipped: system clutter)"
    )
    assert job_outcome(None, []).error_message == "nothing was delivered: it holds no files"


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("not_media", "not a photo or video"),
        ("unsupported_symlink", "a symlink, not a file ferryman reads"),
        ("not chosen", "not chosen"),
        (
            "media.no_decoder: a JPEG XL picture, and no JPEG XL decoder is installed",
            "a JPEG XL picture, and no JPEG XL decoder is installed",
        ),
        (None, "no reason given"),
    ],
)
def test_a_skip_reason_in_words(reason: str | None, words: str) -> None:
    assert skip_words(reason) == words


def test_a_file_skipped_for_a_fault_is_not_a_clean_run() -> None:
    """A picture no decoder reads, skipped beside delivered ones: the job is done but
    carries the code, so `add --run … && rm` stops (issue 79); a skip by choice does not."""
    delivered = ItemFact(ItemState.DELIVERED, None, None, None)
    no_decoder = ItemFact(
        ItemState.SKIPPED,
        None,
        "media.no_decoder: a JPEG XL picture, and no JPEG XL decoder is installed",
        None,
    )
    outcome = job_outcome(None, [delivered, no_decoder, delivered])
    assert (outcome.state, outcome.error_code) == (JobState.DONE, "media.no_decoder")
    assert outcome.error_message == (
        "1 file of 3 not delivered (media.no_decoder: a JPEG XL picture, and no JPEG XL"
        " decoder is installed); 2 delivered"
    )
    by_choice = [ItemFact(ItemState.SKIPPED, None, r, None) for r in ("camera_raw", "junk")]
    assert job_outcome(None, [delivered, *by_choice]) == Outcome(JobState.DONE)
