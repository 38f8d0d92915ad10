"""The front door's texts: short plain lines a phone shows without wrapping much."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ferryman.engine.ops.phases import CONVERTING, DOWNLOADING, Figures, figures_of
from ferryman.engine.ops.report import counts
from ferryman.engine.plumbing.events import JobFetching
from ferryman.frontdoors.terminal import deferred_note, kept_undecoded
from ferryman.model import Job, JobState
from ferryman.rules.outcomes import skip_words


@dataclass(frozen=True, slots=True)
class Shown:
    """What a status message should say: ``phase`` changes are worth an edit by themselves."""

    percent: int
    phase: str
    text: str
    final: bool = False


def size_text(n: int) -> str:
    if n < 1000 * 1000:
        return f"{n / 1000:.0f} kB"
    if n < 1000**3:
        return f"{n / 1000**2:.1f} MB"
    return f"{n / 1000**3:.2f} GB"


BAR_CELLS = 10
SKIP_LINES = 5  # reasons for skipped files a summary lists


def bar(percent: int) -> str:
    """A progress bar a phone shows on one line: ``▰▰▰▰▱▱▱▱▱▱`` for 40 %."""
    full = max(0, min(BAR_CELLS, percent * BAR_CELLS // 100))
    return "▰" * full + "▱" * (BAR_CELLS - full)


def albums_text(albums: tuple[int, int] | None) -> str:
    """``1 of 3 albums sent`` (empty while no album is made)."""
    if albums is None or not albums[1]:
        return ""
    sent, made = albums
    noun = "album" if made == 1 else "albums"
    return f"{made} {noun} sent" if sent == made else f"{sent} of {made} {noun} sent"


def queued_link(name: str) -> Shown:
    return Shown(0, "", f"{name}: queued; fetching starts shortly")


def fetching_shown(job: Job, progress: JobFetching, figures: Figures | None = None) -> Shown:
    """A link's download (and, for a link to media, its conversion) as it goes: one
    rising percentage with the phase under way and its own speed and time left (the
    page's figures: ``engine.ops.phases``), never a made-up milestone."""
    if figures is None or figures.phase not in (DOWNLOADING, CONVERTING):
        figures = figures_of(progress)  # between tries: the phase it waits to go on with
    fraction = progress.fraction
    percent = int(fraction * 100) if fraction is not None else 0
    phase = figures.phase if figures is not None else "downloading"
    note = figures.note() if figures is not None and not job.wait_reason else ""
    extra = f" ({note})" if note else ""
    wait = f", waiting: {job.wait_reason}" if job.wait_reason else ""
    return Shown(
        percent,
        "fetching",
        f"{job_title(job)}: {phase} {percent}%{extra}{wait}\n{bar(percent)}",
    )


def job_title(job: Job) -> str:
    return f"job {job.id} {job.name}"


def job_shown(
    job: Job,
    by_state: dict[str, int],
    figures: Figures | None = None,
    albums: tuple[int, int] | None = None,
    skipped: dict[str, int] | None = None,
) -> Shown:
    """A job's status from its state and item counts (summary once it ended): a line,
    then a progress bar with the albums sent; ``figures``: the phase under way, said
    with its own speed and time left; ``albums``: (sent, made); ``skipped``: why files
    were skipped (reason: how many), for the summary."""
    c = counts(by_state)
    total, pending = c["total"], c["pending"]
    done = total - pending
    percent = int(done * 100 / total) if total else 0
    if not job.read_done:
        percent = min(percent, 99)  # more entries may come
    title = job_title(job)
    if job.state.terminal:
        lines = [ended_text(job, c), albums_text(albums)]
        reasons = sorted((skipped or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        lines += [f"skipped {n}: {skip_words(reason)}" for reason, n in reasons[:SKIP_LINES]]
        if len(reasons) > SKIP_LINES:
            lines.append(f"… /report {job.id} tells the rest")
        return Shown(100, "ended", "\n".join(line for line in lines if line), final=True)
    if job.paused:
        return Shown(percent, "paused", f"{title}: paused at {percent}% (/resume {job.id})")
    if job.state is JobState.NEEDS_PASSWORD:
        return Shown(
            percent,
            "password",
            f"{title}: needs the archive password; send /pass PASSWORD"
            f" ({done} of {total} files done meanwhile)",
        )
    if job.state is JobState.QUEUED and not total:
        return Shown(0, "queued", f"{title}: queued")
    files = f"{done} of {total} files" if job.read_done else f"{done} of {total} files so far"
    wait = f", waiting: {job.wait_reason}" if job.wait_reason else ""
    doing = f", {figures.line()}" if figures is not None and not job.wait_reason else ""
    sent = albums_text(albums)
    meter = f"{bar(percent)} {sent}" if sent else bar(percent)
    return Shown(percent, "running", f"{title}: {percent}% ({files}{wait}){doing}\n{meter}")


def ended_text(job: Job, c: dict[str, int]) -> str:
    title = job_title(job)
    tally = (
        f"{c['delivered']} delivered, {c['skipped']} skipped,"
        f" {c['quarantined']} quarantined, {c['failed']} failed"
    )
    seconds = (job.summary or {}).get("seconds")
    took = ""
    if isinstance(seconds, int | float):
        took = f" in {seconds:.1f} s" if seconds < 10 else f" in {seconds:.0f} s"
    if job.state is JobState.DONE:
        return f"{title}: done, {tally}{took}"
    if job.state is JobState.CANCELLED:
        return f"{title}: cancelled, {tally}"
    error = f" {job.error_code}: {job.error_message}" if job.error_code else ""
    return f"{title}: failed,{error} ({tally}); /retry {job.id}"


# A job's command in a next step, as the chat has it: a person on a phone has the chat's
# commands, not a shell on the machine ferryman runs on.
_CHAT_COMMAND = re.compile(r"`ferryman (retry|report|cancel|pause|resume) (\d+)`")
_CHAT_PASSWORD = re.compile(r"`ferryman password (\d+)`")
_ELSEWHERE = re.compile(r" \(or /\w+ in the chat, or (?:\w+ )?on the page\)")


def chat_step(text: str) -> str:
    """A next step in the chat's words: `ferryman retry 7` → /retry 7, `ferryman password
    7` → /pass 7 PASSWORD, `ferryman quarantine list` → /quarantine (and no "or /retry in
    the chat" beside it), "use --force" → the caption force; a command the chat has none
    for (a setting) stays as it is."""
    text = _CHAT_COMMAND.sub(r"/\1 \2", text)
    text = _CHAT_PASSWORD.sub(r"/pass \1 PASSWORD", text)
    text = text.replace("use --force to", "send it again with the caption force to")
    return _ELSEWHERE.sub("", text).replace("`ferryman quarantine list`", "/quarantine")


def job_row(job: dict[str, Any]) -> str:
    """One line of ``/status`` from :func:`ferryman.engine.ops.report.status` data."""
    c = job["counts"]
    done = c["total"] - c["pending"]
    state = ("fetching" if job.get("fetching") else job["state"]) + (
        " paused" if job["paused"] else ""
    )
    if job["waiting"]:
        state += f" ({job['waiting']})"
    line = f"{job['id']} {job['name']}: {state}, {done}/{c['total']} files"
    # Done is not delivered: "11/11 files (9 skipped)" when 9 were not chosen.
    left = [f"{c[k]} {k}" for k in ("skipped", "quarantined", "failed") if c.get(k)]
    line += f" ({', '.join(left)})" if left else ""
    if job["error"]:
        error = job["error"]
        line += f"\n  {error['code']}: {error['message']}"
        line += f"\n  next: {chat_step(error['next'])}" if error.get("next") else ""
    elif job.get("waiting_message"):
        line += f"\n  {job['waiting']}: {job['waiting_message']}"
        line += f"\n  next: {chat_step(job['waiting_next'])}" if job.get("waiting_next") else ""
    return line


def report_text(data: dict[str, Any]) -> str:
    """``/report``: the essentials of :func:`ferryman.engine.ops.report.report`."""
    lines = [f"job {data['job']} {data['name']}: {data['state']}"]
    for key in ("error", "waiting"):
        problem = data.get(key)
        if problem:
            lines.append(f"{problem['code']}: {problem['message'] or problem['code']}")
            if problem.get("next"):
                lines.append(f"next: {chat_step(problem['next'])}")
    lines.append(
        f"{data['delivered']} of {data['total']} delivered ({data['converted']} converted),"
        f" {size_text(data['bytes_delivered'])}, {data['seconds']:.0f} s"
    )
    if deferred_note(data):
        lines.append(deferred_note(data))
    for reason, n in sorted(data["skipped"].items()):
        lines.append(f"skipped {n}: {skip_words(reason)}")
    for entry in [e for e in data.get("items", []) if kept_undecoded(e)][:10]:
        lines.append(f"as it is {entry['path']}: {entry['reason'].split(':')[0]}")
    for entry in data["quarantined"][:10]:
        lines.append(f"quarantined {entry['path']}: {entry['code']}")
    for entry in data["failed"][:10]:
        lines.append(f"failed {entry['path']}: {entry['code']}")
    return "\n".join(lines)


# The engine's settings a person in the chat reads and changes; the backlog's bounds are
# tuning (``/settings backlog_bytes 2GiB`` still sets one), not listed.
CHAT_SETTINGS = ("album_size", "caption_template", "send_documents", "space_floor")
_SIZES = frozenset({"space_floor"})


def engine_settings(current: dict[str, Any], described: dict[str, str | None]) -> str:
    """The engine's chat-facing settings, one a line: its value in a person's units
    (``1.07 GB``, ``yes``), then what it does (the setting's own description)."""
    lines = []
    for key in CHAT_SETTINGS:
        value = current[key]
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        elif key in _SIZES:
            shown = size_text(int(value))
        else:
            shown = str(value)
        lines.append(f"{key} = {shown}: {described.get(key) or ''}".rstrip(": "))
    return "\n".join(lines)
