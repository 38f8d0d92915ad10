"""Exit codes a script can use: one table, printed by ``ferryman --help`` and docs/cli.md.

rclone's model: a few codes, each a different thing for a script to do next (go on,
look at the failures, ask the person, fix the set-up, stop). Every command ends with
one of them; ``for_error`` maps an error code to its row, ``for_run`` a run's summary.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    WAITING = 3
    SETUP = 4
    INTERRUPTED = 130


# What each code means, as `--help` and docs/cli.md print it.
TABLE: tuple[tuple[ExitCode, str], ...] = (
    (ExitCode.OK, "everything asked for was done (every job delivered in full)"),
    (
        ExitCode.FAILED,
        "a job failed or delivered only part, or an input or a job was refused"
        " (not found, added before, not ended…)",
    ),
    (ExitCode.USAGE, "usage error: an unknown option, a bad argument or value"),
    (ExitCode.WAITING, "a job waits on you: a password, disk space (`ferryman status` says)"),
    (
        ExitCode.SETUP,
        "configuration or store error: a bad setting, a data folder or database that"
        " cannot be used, another ferryman on this data folder",
    ),
    (ExitCode.INTERRUPTED, "interrupted (Ctrl-C): the jobs wait for the next run"),
)

# Error codes (or their families, ending in ".") that say the set-up is wrong, not the input.
_SETUP = (
    "config.",
    "store.",
    "engine.locked",
    "telegram.not_configured",
    "telegram.not_logged_in",
    "debrid.none",  # no debrid service has a key: a magnet refused when added
    "torbox.auth",  # torbox.api_key not set (or refused)
    "rclone.missing",  # no rclone, or rclone.config names no file: refused when added
    "web.cannot_listen",
)
# Error codes that say an option's value is wrong: the command line, as Click's own.
_USAGE = frozenset(
    {
        "link.bad_profile",
        "notify.bad_url",
        "watch.bad_option",
        "account.bad_password",  # `user add|reset`: too short, or typed twice unlike
        "watch.bad_window",
        "job.password_empty",
        "link.output_for_file",
        "sink.unknown",  # --to names no destination ferryman knows
        "rclone.no_remote",  # rclone:REMOTE:… names no remote of the rclone.conf in use
        "rclone.unknown_remote",  # … of the person's own rclone.conf
        "rclone.conn_refused",  # a person's connection string or on-the-fly backend
        "docs.unknown",  # `ferryman docs TOPIC`: no such topic
    }
)
_WAITING = frozenset({"space.low", "sink.space_low"})


def for_error(code: str) -> ExitCode:
    """The exit code of a command that ended on the coded error ``code``."""
    if code in _USAGE:
        return ExitCode.USAGE
    if code in _WAITING:
        return ExitCode.WAITING
    if any(code == s or (s.endswith(".") and code.startswith(s)) for s in _SETUP):
        return ExitCode.SETUP
    return ExitCode.FAILED


def for_run(summary: dict[str, Any], *, interrupted: bool = False) -> ExitCode:
    """A run's exit code from its summary (``engine.ops.report.run_summary``): a failure
    first, then a wait on the person; an interrupted run says so whatever ended."""
    if interrupted:
        return ExitCode.INTERRUPTED
    needs = summary.get("needs", [])
    if any(need["state"] in ("failed", "done") for need in needs):
        return ExitCode.FAILED  # failed, or done with a code: delivered only part
    if any(need["state"] == "waiting" for need in needs):
        return ExitCode.WAITING
    return ExitCode.OK
