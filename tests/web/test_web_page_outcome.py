"""The page drawn without its script says how a job came out as the script does
(``web/page.outcome``, ``static/app.js``'s ``outcome``): a done job that keeps a code
(files that failed, an album's every one, or were kept back) is "partial", never the
green of a clean run."""

from __future__ import annotations

from ferryman.web.page import outcome, status_text


def _view(status: str, delivered: int, error: dict[str, str] | None) -> dict[str, object]:
    counts = {"total": 11, "delivered": delivered}
    return {"status": status, "phase": status, "counts": counts, "error": error}


def test_a_done_job_with_failures_is_partial_and_a_clean_one_is_not() -> None:
    failures = {"code": "telegram.media_rejected", "message": "10 failed, 1 delivered"}
    assert outcome(_view("done", 1, failures)) == "partial"
    assert status_text(_view("done", 1, failures)) == "done · 1 of 11 delivered"
    assert outcome(_view("done", 11, None)) == ""
    assert outcome(_view("done", 0, {"code": "source.nothing_delivered"})) == "nothing"
    assert outcome(_view("failed", 3, failures)) == "partial"
