"""Text from outside (a path, an entry's name, a feed's title, a server's message) made
safe to print: control characters shown as escapes, never sent to the terminal or
written raw into a log.

A raw ESC in a file name can restyle or retitle a terminal, a CR overwrite the line it
is on (a log line that says something else), a BEL ring, a newline forge a log record,
and a bidi override (U+202E) show ``in_side\\u202egpj.mp4`` as ``in_side4pm.jpg``. Each
is shown as its Python escape (``\\x1b``, ``\\u202e``), which is idempotent: escaping
twice changes nothing. One function for every way out: the CLI's consoles
(``frontdoors/terminal``), its plain progress lines, and the log handlers' formatter.
"""

from __future__ import annotations

import logging
import re

# C0 controls, DEL, C1 controls, the bidi controls (embeddings, overrides, isolates,
# marks) and the Unicode line and paragraph separators.
_CONTROLS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_IN_A_LINE = re.compile(f"[\x00-\x1f{_CONTROLS}]")
_IN_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_CONTROLS}]")  # newlines and tabs kept


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` with every control character escaped; ``lines``: newlines and tabs
    kept (text laid out in lines on purpose: a table, a traceback)."""
    return (_IN_LINES if lines else _IN_A_LINE).sub(_escape, text)


class EscapingFormatter(logging.Formatter):
    """A log formatter whose records are one line each, whatever their arguments hold
    (a newline or a CR in a name cannot forge a record); a traceback keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        return printable(super().formatException(ei), lines=True)

    def formatStack(self, stack_info: str) -> str:
        return printable(super().formatStack(stack_info), lines=True)
