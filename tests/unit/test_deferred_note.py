"""The report's note on converted files (``frontdoors.terminal.deferred_note``): said only
of a converted file delivered after a file that follows it in the input, among the photos
and videos; a conversion in its place, or behind a document album, is not late."""

from __future__ import annotations

from typing import Any

from ferryman.frontdoors.terminal import deferred_note


def _item(seq: int, album: int | None, plan: str = "as_is", kind: str = "photo") -> dict[str, Any]:
    state = "delivered" if album is not None else "quarantined"
    return {"seq": seq, "album": album, "plan": plan, "kind": kind, "state": state}


def test_a_conversion_in_its_place_is_not_noted() -> None:
    items = [_item(0, 1), _item(1, 1, "transcode", "video"), _item(2, 2)]
    assert deferred_note({"items": items}) == ""


def test_each_conversion_after_a_later_file_is_counted() -> None:
    items = [
        _item(0, 1),
        _item(1, 3, "transcode", "video"),  # after 2 and 3
        _item(2, 1),
        _item(3, 2, "audio_transcode", "video"),  # after nothing later: in its place
        _item(4, 4, "animation", "animation"),  # after 5
        _item(5, 2),
    ]
    note = deferred_note({"items": items})
    assert note.startswith("2 converted files came after files that follow in the input")


def test_documents_and_undelivered_items_do_not_make_a_conversion_late() -> None:
    items = [
        _item(0, 2, "transcode", "video"),
        _item(1, 1, "document", "document"),  # documents travel apart
        _item(2, None),  # never delivered
    ]
    assert deferred_note({"items": items}) == ""
