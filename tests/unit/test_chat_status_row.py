"""The chat's ``/status`` line: done is not delivered, so what was left out says so."""

from __future__ import annotations

from typing import Any

from ferryman.frontdoors.telegram.render import job_row


def _job(**counts: int) -> dict[str, Any]:
    c = {"total": 11, "pending": 0, "delivered": 11, "skipped": 0, "quarantined": 0, "failed": 0}
    return {
        "id": 4,
        "name": "trip",
        "state": "done",
        "paused": False,
        "waiting": None,
        "error": None,
        "counts": {**c, **counts},
    }


def test_a_job_with_files_left_out_says_how_many() -> None:
    assert job_row(_job(delivered=2, skipped=9)) == "4 trip: done, 11/11 files (9 skipped)"
    assert (
        job_row(_job(delivered=8, skipped=1, quarantined=1, failed=1))
        == "4 trip: done, 11/11 files (1 skipped, 1 quarantined, 1 failed)"
    )


def test_a_job_that_delivered_everything_reads_as_before() -> None:
    assert job_row(_job()) == "4 trip: done, 11/11 files"


def test_next_steps_in_the_chat_name_the_chats_commands_not_the_shells() -> None:
    """`/status` and `/report` in the chat said "`ferryman retry 4` starts it again": a
    person on a phone has /retry, not a shell on the machine ferryman runs on."""
    from ferryman.errors import next_step_for, spec_for, with_job
    from ferryman.frontdoors.telegram.render import report_text

    cancelled = _job(delivered=0, pending=0)
    step = next_step_for("job.cancelled", failed=True, job=4)
    cancelled |= {
        "state": "cancelled",
        "error": {"code": "job.cancelled", "message": "on request", "next": step},
    }
    assert (
        job_row(cancelled).splitlines()[-1]
        == "  next: Cancelled on request; /retry 4 starts it again."
    )
    waiting = _job(pending=11, delivered=0) | {
        "state": "waiting",
        "waiting": "archive.password_required",
        "waiting_message": "trip.zip: needs a password",
        "waiting_next": with_job(spec_for("archive.password_required").next_step, 4),
    }
    assert "give it with /pass 4 PASSWORD; it reads on" in job_row(waiting)
    retried_out = next_step_for("source.io", failed=True, job=4)
    report = {
        "job": 4, "name": "trip", "state": "failed", "delivered": 0, "total": 11,
        "converted": 0, "bytes_delivered": 0, "seconds": 1.0, "skipped": {},
        "quarantined": [], "failed": [], "waiting": None,
        "error": {"code": "source.io", "message": "a read failed", "next": retried_out},
    }  # fmt: skip
    said = report_text(report)
    assert "/retry 4 starts it again" in said and "ferryman retry" not in said
    assert "in the chat" not in said  # not "/retry 4 (or /retry in the chat, …)"
    # A step the chat has no command for (a setting on the server) stays as it is.
    kept = with_job(spec_for("source.nothing_delivered").next_step, 4)
    assert "`ferryman config set send_documents true`" in report_text(
        report | {"error": {"code": "source.nothing_delivered", "message": "-", "next": kept}}
    )


def test_a_link_sent_twice_is_told_the_chats_way_to_take_it_again() -> None:
    """The chat answered a link sent again with "use --force": a chat has no flags, its
    caption word `force` does that."""
    from ferryman.errors import spec_for
    from ferryman.frontdoors.telegram.render import chat_step

    said = chat_step(spec_for("source.duplicate").next_step)
    assert said == "Already added; send it again with the caption force to process it again."


def test_the_chat_report_names_a_file_kept_as_it_is_and_its_code() -> None:
    """A library keeps a photo nothing decodes as it is (not in quarantine): `/report`
    says so, with the code, as `ferryman report` does; a file sent as a file for no
    fault (a PDF) is not named."""
    from ferryman.frontdoors.telegram.render import report_text

    def item(path: str, reason: str | None) -> dict[str, object]:
        return {"path": path, "plan": "document", "reason": reason, "state": "delivered"}

    report = {
        "job": 4, "name": "trip", "state": "done", "delivered": 3, "total": 3,
        "converted": 0, "bytes_delivered": 10, "seconds": 1.0, "skipped": {},
        "quarantined": [], "failed": [], "waiting": None, "error": None,
        "items": [
            item("cut.jpg", "media.unreadable: cannot decode (Truncated File Read)"),
            item("notes.pdf", None),
            item("scan.tif", "pages=300>100"),
        ],
    }  # fmt: skip
    lines = report_text(report).splitlines()
    assert [line for line in lines if line.startswith("as it is")] == [
        "as it is cut.jpg: media.unreadable"
    ]
