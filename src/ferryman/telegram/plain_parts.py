"""File parts travel without Telethon's gzip attempt: media does not shrink, and trying cost
more CPU than the encryption itself.

Telethon writes every request over 512 bytes through ``GzipPacked.gzip_if_smaller``:
it gzips the body (``gzip.compress``, level 9) and keeps the original when that is not
smaller. A file part of a photo, a video or an archive is already compressed, so the
attempt is thrown away every time, and it runs at ~50 MiB/s a core (measured here:
20 s of CPU per GiB, against ~2 s for AES-IGE with cryptg and ~0.5 s for MTProto's
SHA-256). Gzip is optional in MTProto, so the upload connections' state writes
``saveFilePart``/``saveBigFilePart`` bodies as they are; every other request is
written as Telethon writes it.
"""

from __future__ import annotations

import struct
from typing import Any

from telethon.network.mtprotostate import MTProtoState
from telethon.tl import functions

_PARTS = frozenset(
    struct.pack("<I", r.CONSTRUCTOR_ID)
    for r in (functions.upload.SaveFilePartRequest, functions.upload.SaveBigFilePartRequest)
)


class PlainPartsState(MTProtoState):  # type: ignore[misc]
    def write_data_as_message(
        self, buffer: Any, data: bytes, content_related: bool, *, after_id: int | None = None
    ) -> int:
        if after_id is not None or data[:4] not in _PARTS:
            return int(
                super().write_data_as_message(buffer, data, content_related, after_id=after_id)
            )
        msg_id = int(self._get_new_msg_id())
        buffer.write(struct.pack("<qii", msg_id, self._get_seq_no(content_related), len(data)))
        buffer.write(data)
        return msg_id


def plain_parts(sender: Any) -> None:
    """Have ``sender`` (Telethon's ``MTProtoSender``, or one with its ``_state``) send
    file parts without the gzip attempt; anything else is left as it is."""
    state = getattr(sender, "_state", None)
    if type(state) is MTProtoState:
        state.__class__ = PlainPartsState  # the same object: the sender's packer holds it
