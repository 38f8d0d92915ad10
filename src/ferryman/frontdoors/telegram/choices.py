"""What the chat offers to choose, decided once for both kinds of session.

An :class:`Offer` is rows of :class:`Option`; each option's ``action`` is a short
string (at most 64 bytes: Telegram's limit for a button's data) that says everything
needed to carry it out, so a press needs no memory of what was offered. A bot session
draws an offer as an inline keyboard, a user session as numbered options answered by a
reply (``keyboards``); ``callbacks`` carries the action out either way.

Actions: ``j:JOB:cancel|retry|report|pass`` on a job's status message; ``l:JOB:PROFILE``
on a link's (the same link again in another form); ``a:ROW:choose|all`` on an archive
still downloading (inbox row ``ROW``); ``c:ROW:…`` in the list of an archive's files
(``choose``); ``s:OPTION:KEY`` in ``/settings`` (option ``OPTION`` of the person's
setting ``KEY``, ``user_settings.CHOICES``); ``t:CHANNEL:topics`` there too (``to`` a
forum group the account is in, a topic per folder: ``telegram:-100CHANNEL/topics``; to
a person only the forum groups that are theirs, ``UserSettings.own_forums``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ferryman.frontdoors.telegram.user_settings import ADMINS_ONLY, CHOICES
from ferryman.model import Job, JobState

DATA_MAX = 64  # bytes of a callback button's data


@dataclass(frozen=True, slots=True)
class Option:
    label: str
    action: str

    def __post_init__(self) -> None:
        if len(self.action.encode()) > DATA_MAX:
            raise ValueError(f"action {self.action!r} is longer than {DATA_MAX} bytes")


@dataclass(frozen=True, slots=True)
class Offer:
    """Rows of options (a bot draws each row as a row of buttons)."""

    rows: tuple[tuple[Option, ...], ...]

    @property
    def options(self) -> list[Option]:
        return [o for row in self.rows for o in row]


# A link to media can be had in these forms besides its own (``links.profile`` words).
LINK_FORMS: tuple[tuple[str, str], ...] = (
    ("Video 1080p", "1080p"),
    ("720p", "720p"),
    ("Audio MP3", "mp3"),
)


def job_offer(job: Job, link: bool = False) -> Offer | None:
    """A job's status message: Cancel and Report while it runs (a password to give
    while it waits for one), Retry and Report once it failed or was cancelled, Report
    once it is done; a link to media also in its other forms (``link``)."""
    n = job.id
    if job.state is JobState.DONE:
        rows: list[tuple[Option, ...]] = [(Option("Report", f"j:{n}:report"),)]
    elif job.state.terminal:
        rows = [(Option("Retry", f"j:{n}:retry"), Option("Report", f"j:{n}:report"))]
    elif job.state is JobState.NEEDS_PASSWORD:
        rows = [(Option("Enter password", f"j:{n}:pass"), Option("Cancel", f"j:{n}:cancel"))]
    else:
        rows = [(Option("Cancel", f"j:{n}:cancel"), Option("Report", f"j:{n}:report"))]
    if link:
        rows.append(tuple(Option(label, f"l:{n}:{form}") for label, form in LINK_FORMS))
    return Offer(tuple(rows))


def archive_offer(row_id: int, choosing: bool) -> Offer:
    """An archive while it downloads: everything (the default, nothing waits for a
    choice) or its files chosen from a list once it is here."""
    mark = ("", "✓ ") if choosing else ("✓ ", "")
    return Offer(
        (
            (
                Option(f"{mark[0]}Everything", f"a:{row_id}:all"),
                Option(f"{mark[1]}Choose files", f"a:{row_id}:choose"),
            ),
        )
    )


TITLE_SHOWN = 32  # characters of a forum group's title on its button


def topics_dest(channel_id: int) -> str:
    """The ``to`` value of a forum group's topic per folder (``telegram:-100…/topics``)."""
    return f"-100{channel_id}/topics"


def settings_offer(
    stored: dict[str, str], forums: Sequence[tuple[int, str]] = (), *, person: bool = False
) -> Offer:
    """``/settings``: a row a setting, each of its usual values (``stored``: the
    person's values, marked ✓; a default is marked nowhere). ``forums``: the forum
    groups offered (id, title: for a ``person``, theirs only), each as ``to`` with a
    topic per folder, in a row of their own after ``to``'s. A ``person`` (an ordinary
    account, not an administrator) is not offered what is refused them: ``to me``."""
    rows = []
    for choice in CHOICES:
        row = []
        for i, option in enumerate(choice.options):
            if person and option.value in ADMINS_ONLY.get(choice.key, ()):
                continue
            mark = "✓ " if stored.get(choice.key) == option.value else ""
            label = f"{mark}{choice.key} {option.value.rstrip(':')}"
            row.append(Option(label, f"s:{i}:{choice.key}"))
        rows.append(tuple(row))
        if choice.key == "to" and forums:
            rows.append(tuple(_forum_option(stored, *forum) for forum in forums))
    return Offer(tuple(rows))


def _forum_option(stored: dict[str, str], channel_id: int, title: str) -> Option:
    mark = "✓ " if stored.get("to") == topics_dest(channel_id) else ""
    shown = title if len(title) <= TITLE_SHOWN else title[: TITLE_SHOWN - 1] + "…"
    return Option(f"{mark}to {shown}, a topic per folder", f"t:{channel_id}:topics")


def parse(action: str) -> tuple[str, int, str] | None:
    """``(kind, number, rest)`` of an action; None if it is not one of ours."""
    kind, _, tail = action.partition(":")
    number, _, rest = tail.partition(":")
    if kind not in ("j", "l", "a", "c", "s", "t") or not number.isdigit() or not rest:
        return None
    return kind, int(number), rest
