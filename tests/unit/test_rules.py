"""The pipeline's pure decisions (``ferryman.rules``): albums sealed, jobs' outcomes."""

from __future__ import annotations

import pytest

from ferryman.model import AlbumGroup, ItemState, JobState, MediaKind, Plan
from ferryman.rules.outcomes import ItemFact, Outcome, job_outcome, skip_words
from ferryman.rules.sealing import ReadyItem, albums_to_seal, split_alone


def _photos(n: int, start: int = 1) -> list[ReadyItem]:
    return [ReadyItem(start + i, MediaKind.PHOTO, Plan.AS_IS) for i in range(n)]


def _never() -> set[AlbumGroup]:
    raise AssertionError("asked which groups convert when no partial album may go")


def test_full_albums_seal_at_once_and_a_partial_one_waits_while_reading() -> None:
    chosen = albums_to_seal(_photos(13), 5, read_done=False, blocked=False, converting=_never)
    assert chosen == [(AlbumGroup.VISUAL, [1, 2, 3, 4, 5]), (AlbumGroup.VISUAL, [6, 7, 8, 9, 10])]


def test_a_partial_album_goes_once_reading_ended_or_is_blocked() -> None:
    for read_done, blocked in ((True, False), (False, True)):
        chosen = albums_to_seal(
            _photos(3), 5, read_done=read_done, blocked=blocked, converting=lambda: set()
        )
        assert chosen == [(AlbumGroup.VISUAL, [1, 2, 3])]


def test_groups_are_sealed_apart_in_group_order() -> None:
    ready = [ReadyItem(1, MediaKind.AUDIO, Plan.AS_IS), *_photos(2, start=2)]
    chosen = albums_to_seal(ready, 10, read_done=True, blocked=False, converting=lambda: set())
    assert [group for group, _ in chosen] == [AlbumGroup.VISUAL, AlbumGroup.AUDIO]
    assert [ids for _, ids in chosen] == [[2, 3], [1]]


def test_converted_items_wait_for_their_groups_other_conversions() -> None:
    video = ReadyItem(9, MediaKind.VIDEO, Plan.TRANSCODE)
    ready = [*_photos(2), video]
    waiting = albums_to_seal(
        ready, 10, read_done=True, blocked=False, converting=lambda: {AlbumGroup.VISUAL}
    )
    assert waiting == [(AlbumGroup.VISUAL, [1, 2])]  # the transcoded video waits
    blocked = albums_to_seal(
        ready, 10, read_done=True, blocked=True, converting=lambda: {AlbumGroup.VISUAL}
    )
    assert blocked == [(AlbumGroup.VISUAL, [1, 2, 9])]  # reading waits for these: all go


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
