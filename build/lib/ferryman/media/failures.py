"""One way for every media writer to fail: a coded error, and no half-written output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av

from ferryman.errors import FerrymanError

# What FFmpeg and file I/O raise for a bad input or a failed write.
MEDIA_FAILURES: tuple[type[BaseException], ...] = (av.FFmpegError, OSError, ValueError, EOFError)


@contextmanager
def removing_on_failure(
    src: Path,
    dst: Path,
    what: str,
    failures: tuple[type[BaseException], ...] = MEDIA_FAILURES,
) -> Iterator[None]:
    """Turn ``failures`` into ``media.convert_failed`` naming ``src``; remove ``dst`` on any error.

    A FerrymanError passes through with its own code (after ``dst`` is removed).
    """
    try:
        yield
    except FerrymanError:
        dst.unlink(missing_ok=True)
        raise
    except failures as exc:
        dst.unlink(missing_ok=True)
        raise FerrymanError("media.convert_failed", f"{src.name}: {what} failed ({exc})") from exc
