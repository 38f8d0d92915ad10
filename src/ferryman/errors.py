"""Error codes: every failure ferryman reports carries one of these.

A code says what went wrong, whether retrying can help, how far the failure reaches
and what a person can do next. The registry is plain data (``error_codes``) so reports,
the CLI and the chat render the same words and the engine and sources decide from the
same table.
Every code the code raises is registered (``tests/unit/test_error_codes.py``); an unknown
code is a bug: not retried, logged, and its next step says to report it.
"""

from __future__ import annotations

import logging
import re
import warnings

from ferryman.error_codes import (
    AGENT_STEP,
    ERRORS,
    SERVICE_KEYS,
    SERVICE_STEP,
    UPLOAD_STEPS,
    ErrorSpec,
)

log = logging.getLogger(__name__)

__all__ = [
    "ERRORS",
    "ErrorSpec",
    "FerrymanError",
    "ServerWait",
    "UnregisteredCodeWarning",
    "next_step_for",
    "page_line",
    "page_step",
    "spec_for",
    "step_of",
    "with_job",
]


def spec_for(code: str) -> ErrorSpec:
    """The spec of a code. An unknown code is a bug: logged, never retried, and its next
    step asks for a report (retrying what nobody understood would only hide it)."""
    spec = ERRORS.get(code)
    if spec is not None:
        return spec
    log.error("error code %r is not registered in ferryman.error_codes (a bug)", code)
    return ErrorSpec(
        code,
        False,
        f"This is a bug in ferryman: the error code '{code}' is unknown. Please report it"
        " with the message; `ferryman retry JOB` tries again.",
    )


def step_of(code: str, message: str | None = None) -> str:
    """``code``'s next step, made exact by what ``message`` names where the code's own
    step can only say "the service the message names": a debrid service's refused key
    (``debrid.auth``) names that service's setting and the line that sets it."""
    step = spec_for(code).next_step
    if code != "debrid.auth" or not message:
        return step
    named = [(at, shown) for shown in SERVICE_KEYS if (at := message.find(shown)) >= 0]
    if not named:
        return step
    shown = min(named)[1]
    if shown == "AllDebrid" and "_AGENT" in message:
        return AGENT_STEP
    setting, page = SERVICE_KEYS[shown]
    return SERVICE_STEP.format(shown=shown, setting=setting, page=page)


class UnregisteredCodeWarning(UserWarning):
    """A ``FerrymanError`` was made with a code the registry lacks; tests make it an error."""


class FerrymanError(Exception):
    """An error with a code from the registry.

    The message says what happened to which thing; the code's spec says whether a
    retry can help and what a person should do next. ``step``: the next step where the
    code's own does not fit the state it is met in (an input refused when it is added,
    nothing recorded: no job to retry).
    """

    def __init__(self, code: str, message: str, *, step: str | None = None) -> None:
        if code not in ERRORS:
            warnings.warn(f"unregistered error code {code!r}", UnregisteredCodeWarning, 2)
        # A path that is not UTF-8 carries lone surrogates (os.fsdecode): the store,
        # JSON and a terminal take none, so they are shown as U+FFFD. Any other lone
        # surrogate (a JSON body's "\ud800" echoed) too, not a UnicodeEncodeError.
        try:
            raw = message.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = message.encode("utf-8", "surrogatepass")
        message = raw.decode("utf-8", "replace")
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.step = step

    @classmethod
    def internal(cls, bug: Exception) -> FerrymanError:
        """An unexpected exception, as a retryable error that retries count against."""
        return cls("engine.internal", f"{type(bug).__name__}: {bug}")

    @property
    def retryable(self) -> bool:
        return spec_for(self.code).retryable

    @property
    def ends_input(self) -> bool:
        return spec_for(self.code).ends_input

    @property
    def fails_entry(self) -> bool:
        return spec_for(self.code).fails_entry

    @property
    def one_entry(self) -> bool:
        return spec_for(self.code).one_entry

    @property
    def waits(self) -> bool:
        return spec_for(self.code).waits

    @property
    def confirm_once(self) -> bool:
        return spec_for(self.code).confirm_once

    @property
    def next_step(self) -> str:
        return self.step or step_of(self.code, self.message)


RETRIED_OUT = (
    "It was retried until its attempts ran out, and nothing retries it now: once the"
    " cause in the message is gone, `ferryman retry JOB` (or /retry in the chat, or Retry"
    " on the page) starts it again from where it stopped."
)


def next_step_for(
    code: str, *, failed: bool, job: int | None = None, message: str | None = None
) -> str:
    """``code``'s next step (``step_of``: exact for what ``message`` names); for work
    that failed for good, a retryable code's own text (it is retried, it starts again)
    is no longer true, and this says what is. With ``job``, its number stands where the
    text says JOB."""
    spec = spec_for(code)
    return with_job(RETRIED_OUT if failed and spec.retryable else step_of(code, message), job)


RETRIED_OUT_WEB = (
    "It was retried until its attempts ran out: once the cause in the message is gone,"
    " Retry starts it again from where it stopped."
)
_COMMAND = re.compile(r"`(?:ferryman|pip|kill)\b|(?<![\w-])--[a-z]|/[a-z]+ in the chat|\bRun `")


def page_step(code: str, *, failed: bool = False, uploaded: bool = False) -> str:
    """``code``'s next step in the page's words: its ``web_step``, else its CLI step with
    any sentence naming a command dropped (the page has buttons, not a shell).
    ``uploaded``: the input came from the person's own disk, not from a download."""
    spec = spec_for(code)
    if failed and spec.retryable:
        return RETRIED_OUT_WEB
    if uploaded and code in UPLOAD_STEPS:
        return UPLOAD_STEPS[code]
    if spec.web_step is not None:
        return spec.web_step
    kept = [s for s in re.split(r"(?<=[.;])\s+", spec.next_step) if not _COMMAND.search(s)]
    return " ".join(kept) or "The message above says what went wrong."


_CONFIG_LINE = re.compile(r"`(ferryman config set [^`]+)`")


def page_line(code: str, message: str | None = None) -> str | None:
    """The one line to type on the server where the fix is a setting (the page shows it
    under the card's Details, beside the code), else None: the step stays in words."""
    found = _CONFIG_LINE.search(step_of(code, message))
    return found.group(1) if found else None


def with_job(text: str, job: int | None) -> str:
    """A next step with the job's number where it says ``JOB`` (``ferryman password
    JOB`` → ``ferryman password 3``), when the number is known."""
    return text if job is None else re.sub(r"\bJOB\b", str(job), text)


class ServerWait(FerrymanError):
    """A server said: not before ``seconds`` from now (a flood wait, slow mode, a
    Retry-After longer than a download should sleep in place).

    Not a failure: the engine puts the work back, uncounted, for exactly that long. A
    sink or a source raises it (or a subclass: ``TelegramWait``, ``HttpWait``) with a
    retryable code.
    """

    def __init__(self, code: str, message: str, seconds: int) -> None:
        super().__init__(code, message)
        self.seconds = seconds
