"""What a sink keeps of its big uploads under way (part of ``SinkState``; the store's
``sink_uploads``): the file id and the parts its server acknowledged, so a run after a
crash sends only the parts missing (``telegram/resume.py``)."""

from __future__ import annotations

from typing import Protocol

from ferryman.model import UploadRecord


class UploadBook(Protocol):
    async def upload_get(self, account: str, key: str) -> UploadRecord | None:
        """The big upload of file ``key`` by ``account`` left under way, if any."""
        ...

    async def upload_put(self, record: UploadRecord, *, prune_before: float | None = None) -> None:
        """Keep ``record`` (replacing that file's); drop the sink's records not written
        since ``prune_before`` (their parts are gone from the server)."""
        ...

    async def upload_forget(self, account: str, key: str) -> None:
        """The upload ended (or starts over): nothing of it is kept."""
        ...
