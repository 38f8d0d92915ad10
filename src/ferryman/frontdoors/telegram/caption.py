"""What a caption (or a message's text) asks for: where the job goes, ``force``, and
what a link to media becomes.

``to: @channel``, ``to: telegram:-100…``, ``to: me`` and ``to: library:[/path]`` pick
the destination (any scheme the registry knows, and each kind's shorthands); the word
``choose`` lists an archive's files to pick from before any is read; ``force`` takes
a file that was received before once more (and skips the result cache
of a link to media); ``mp3 192``, ``m4a``, ``opus``, ``720p``, ``best``, ``mute`` and
``playlist`` choose a link's output (``links.profile.from_caption``), read outside the
links themselves; ``preset:NAME`` names a preset (``links/presets``) whose choices hold
where the caption makes none (``inbox``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ferryman.errors import FerrymanError
from ferryman.links.profile import Profile, from_caption
from ferryman.sinks.base import SinkRegistry
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.base import SourceRegistry

_TO = re.compile(r"(?:^|\s)to:\s*(\S+)", re.IGNORECASE)
_PRESET = re.compile(r"(?:^|\s)preset:\s*(\S+)", re.IGNORECASE)
_FORCE = re.compile(r"(?:^|\s)force(?:\s|$)", re.IGNORECASE)
_CHOOSE = re.compile(r"(?:^|\s)choose(?:\s|$)", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|ftp|magnet):\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Wishes:
    dest: str
    force: bool
    profile: Profile | None = None  # for links to media
    choose: bool = False  # an archive's files are chosen from a list first


def read_caption(text: str, default_dest: str, sinks: SinkRegistry | None = None) -> Wishes:
    """The caption's wishes; a destination ferryman does not know raises ``sink.unknown``.

    ``sinks``: the destinations the engine knows (the built-in ones by default).
    """
    sinks = sinks or default_sinks()
    found = _TO.search(text or "")
    dest = sinks.expand(found.group(1)) if found else default_dest
    sinks.parse(dest)
    words = _URL.sub(" ", _PRESET.sub(" ", _TO.sub(" ", text or "")))
    chosen = bool(_CHOOSE.search(text or ""))
    return Wishes(dest, bool(_FORCE.search(text or "")), from_caption(words), chosen)


def wished_dest(text: str, sinks: SinkRegistry | None = None) -> str | None:
    """The caption's ``to:`` as a destination (a kind's shorthand expanded), or None:
    what the person typed, checked as theirs (``ops/who.own_place``) before it is used."""
    found = _TO.search(text or "")
    return (sinks or default_sinks()).expand(found.group(1)) if found else None


def wished_preset(text: str) -> str | None:
    """The caption's ``preset:NAME``, or None."""
    found = _PRESET.search(text or "")
    return found.group(1) if found else None


# What a sentence puts after a link without meaning it: "see https://x.zip." or "(https://…)".
_TRAILING = ".,;:!?'\"»”’"
_CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}


def trim_link(raw: str) -> str:
    """A link as written in a sentence, without the punctuation around it: angle brackets,
    trailing stops and commas, a closing bracket that the link itself did not open."""
    link = raw.strip().lstrip("<([{\"'«“‘")
    while link:
        last = link[-1]
        if last in _TRAILING or (
            last in _CLOSERS and link.count(_CLOSERS[last]) < link.count(last)
        ):
            link = link[:-1]
        else:
            break
    return link


def links_in(
    text: str, entity_urls: list[str] | None = None, sources: SourceRegistry | None = None
) -> list[str]:
    """Every link of a message, in order, once: those Telegram marked (entities: plain
    and hidden behind text) first, then any in the text it did not mark.

    Besides web links, a word is a link when a source of ``sources`` claims it (a
    ``t.me/…`` message without its scheme, ``dav://…``, ``torbox:…``; the registry
    decides, so a source added later is taken too); never a local path (``file:``).
    """
    found = [*(entity_urls or [])]
    spans: list[tuple[int, str]] = [(m.start(), m.group(0)) for m in _URL.finditer(text or "")]
    if sources is not None:
        taken = [range(m.start(), m.end()) for m in _URL.finditer(text or "")]
        for word in re.finditer(r"\S+", text or ""):
            if not any(word.start() in r for r in taken) and _claimed(sources, word.group(0)):
                spans.append((word.start(), word.group(0)))
    found += [link for _, link in sorted(spans)]
    links: list[str] = []
    for raw in found:
        link = trim_link(raw)
        if link and link not in links:
            links.append(link)
    return links


def _claimed(sources: SourceRegistry, word: str) -> bool:
    """Whether a source other than local files takes ``word``: it names one of its
    inputs, or is written like one but wrong (then the person is told why)."""
    link = trim_link(word)
    if ":" not in link and "/" not in link:
        return False  # a plain word (a path would need a slash)
    try:
        uri = sources.to_uri(link)
        return sources.for_uri(uri).local_path(uri) is None  # a path is no link
    except FerrymanError as exc:
        return exc.code != "source.unsupported"
