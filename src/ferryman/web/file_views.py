"""A job's delivered files as the API shows them: one file (its signed link, what it is),
and a page of a job's listing (the page asks for a long one a page at a time)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ferryman.model import Item
    from ferryman.web.result_files import ResultFile


def file_view(
    result: ResultFile, url: str, expires: float, preview: str | None = None
) -> dict[str, Any]:
    return {
        "name": result.name,
        "size": result.size,
        "mime": result.mime,
        "url": url,
        "expires_at": expires,
        "kind": result.kind,
        "duration": result.duration,
        "preview": preview,
    }


NO_FILES = {"files_total": 0, "bytes_total": 0}


def page_of(result: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
    """``limit`` of a job's listed files from ``offset``, with where the next page starts
    (None: none left) and the totals of all of them (``links_of`` counts them)."""
    files = result.get("files", [])
    shown = files[offset : offset + limit]
    end = offset + len(shown)
    after = end if shown and end < len(files) else None
    return {**result, "files": shown, "offset": offset, "next_offset": after}


def item_view(item: Item) -> dict[str, Any]:
    """One entry of a job's detail: what it is, where it stands, why it failed."""
    error = None
    if item.error_code:
        error = {"code": item.error_code, "message": item.error_message or item.reason}
    return {
        "seq": item.seq,
        "name": item.source_path,
        "kind": item.kind.value,
        "state": item.state.value,
        "size": item.size,
        "reason": item.reason,  # why it was skipped (not_media…): a skip is no error
        "error": error,
    }
