"""Error codes: every failure ferryman reports carries one of these.

A code says what went wrong, whether retrying can help, and what a person can do
next. The registry is plain data so reports, the CLI and later the chat can all
render the same words.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """What a code means: retryable or not, and the next step for a person."""

    code: str
    retryable: bool
    next_step: str


_SPECS: tuple[ErrorSpec, ...] = (
    # input / sources
    ErrorSpec("source.not_found", False, "Check the path; it may have moved or been renamed."),
    ErrorSpec("source.unreadable", False, "Check the file's permissions (ferryman needs read)."),
    ErrorSpec("source.empty", False, "The file has zero bytes; send the complete file again."),
    ErrorSpec("source.io", True, "A read failed; it is retried automatically."),
    ErrorSpec("source.duplicate", False, "Already added; use --force to process it again."),
    # archives
    ErrorSpec(
        "archive.unreadable",
        False,
        "The archive is damaged or not an archive; re-download it. A copy is in quarantine.",
    ),
    ErrorSpec(
        "archive.truncated",
        False,
        "The archive ends early (incomplete download?); re-download it.",
    ),
    ErrorSpec(
        "archive.entry_corrupt",
        False,
        "This entry is damaged inside the archive; the rest was delivered.",
    ),
    ErrorSpec(
        "archive.password_required",
        False,
        "The job waits: give the password with `ferryman password JOB` (or add it to"
        " `passwords` in the settings and run `ferryman password JOB` with it).",
    ),
    ErrorSpec(
        "archive.unsupported",
        False,
        "Run `ferryman doctor` to see the formats available; most need a RAR-capable 7zz.",
    ),
    ErrorSpec(
        "archive.volume_missing",
        False,
        "Put the missing volume next to the others (same folder, same name) and retry the job.",
    ),
    ErrorSpec(
        "archive.limit_exceeded",
        False,
        "A safety limit stopped the archive (a bomb?). If you trust it, raise the setting"
        " named in the message and retry the job.",
    ),
    # media
    ErrorSpec(
        "media.unreadable",
        False,
        "The file could not be decoded; it is kept in quarantine for a look.",
    ),
    ErrorSpec("media.convert_failed", True, "Conversion failed; it is retried, then quarantined."),
    ErrorSpec("media.convert_timeout", True, "Conversion took too long; raise convert_timeout."),
    ErrorSpec(
        "media.parts_unusable",
        True,
        "The finished parts of a transcode could not be joined; they are discarded and the"
        " video is encoded again from the start.",
    ),
    ErrorSpec(
        "media.too_many_pixels",
        False,
        "The image claims more pixels than is safe to decode (a decompression bomb?); it is"
        " sent as a document. Raise `media.max_image_pixels` if you trust it.",
    ),
    ErrorSpec(
        "media.over_limit",
        False,
        "The file is over the destination's size limit and could not be split or shrunk;"
        " it is kept in quarantine.",
    ),
    # engine
    ErrorSpec("space.low", True, "Free disk space or lower `space_floor`; the job resumes itself."),
    ErrorSpec(
        "job.cancelled", False, "Cancelled on request; `ferryman retry JOB` starts it again."
    ),
    ErrorSpec("engine.lease_lost", True, "Another worker took over; nothing to do."),
    ErrorSpec("engine.locked", False, "Another `ferryman run` uses this data dir; stop it first."),
    ErrorSpec(
        "engine.internal", True, "An unexpected error; it is retried. Report it if it stays."
    ),
    # sinks
    ErrorSpec("sink.io", True, "Writing to the destination failed; it is retried."),
    ErrorSpec("sink.unknown", False, "Use a destination like library:/path (see --help)."),
    # settings
    ErrorSpec("config.invalid", False, "Fix the setting named in the message."),
    ErrorSpec("job.not_found", False, "Run `ferryman status` to list the jobs."),
)

ERRORS: dict[str, ErrorSpec] = {spec.code: spec for spec in _SPECS}


def spec_for(code: str) -> ErrorSpec:
    """The spec of a code; unknown codes are treated as internal (retryable) errors."""
    return ERRORS.get(code) or ErrorSpec(code, True, ERRORS["engine.internal"].next_step)


class FerrymanError(Exception):
    """An error with a code from the registry.

    The message says what happened to which thing; the code's spec says whether a
    retry can help and what a person should do next.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message

    @classmethod
    def internal(cls, bug: Exception) -> FerrymanError:
        """An unexpected exception, as a retryable error that retries count against."""
        return cls("engine.internal", f"{type(bug).__name__}: {bug}")

    @property
    def retryable(self) -> bool:
        return spec_for(self.code).retryable

    @property
    def next_step(self) -> str:
        return spec_for(self.code).next_step
