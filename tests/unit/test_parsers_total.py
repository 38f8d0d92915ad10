"""Every parser of what people type is total (issue 44, item 4): a source, a destination,
a watch's source or a notice URL, however malformed, either parses or is refused with a
coded FerrymanError (a code of the registry, with its next step), never a ValueError,
a UnicodeError or any other exception that reaches a front door as a 500 or a
traceback. Hypothesis mixes every scheme ferryman knows with hostile parts (brackets,
ports out of range, bidi and control characters, empty and over-long labels, percent
escapes, IPv6 zones), with a fixed seed and a bounded number of examples."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.config import Settings, load_settings
from ferryman.engine.notify import check_target, targets
from ferryman.engine.ops import intake
from ferryman.engine.ops.watch_admin import (
    MAX_EVERY,
    MIN_EVERY,
    checked_regex,
    parse_every,
    parse_since,
)
from ferryman.errors import ERRORS, FerrymanError
from ferryman.links.canonical import canonical, host_of, is_platform
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.builtin import default_sources
from ferryman.sources.listers.builtin import default_listers
from ferryman.urls import split_link
from tests.support.hostile_links import HOSTILE_TEXT

TOTAL = settings(
    max_examples=300,
    derandomize=True,  # a fixed seed: the same examples every run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _coded(exc: FerrymanError) -> None:
    """A refusal people can act on: a registered code, with a next step."""
    assert exc.code in ERRORS, exc.code
    assert ERRORS[exc.code].next_step


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("data")
    return load_settings(None, {"data_dir": data, "space_floor": 0})


@pytest.mark.parametrize(
    "raw",
    [
        "http://[::1",
        "http://a:99999/x",
        "http://a:-1/x",
        "http://a\u202eb/x",
        "http://a..b/x",
        "davs://a:99999/",
        "dav://[::1",
        "https://youtu.be:99999/x",
        "media:mp3:http://[::1",
        "http://xn--a/",
        "http://[v1.x]/",
        "file://[::1",
        "/tmp/a\x00b",
        "//[x",
    ],
)
def test_the_reported_links_are_refused_with_a_code(raw: str, conf: Settings) -> None:
    """The tester's cases (and their kin): each was a ValueError before."""
    try:
        new = intake.understand(raw, dest="library:", settings=None)
    except FerrymanError as exc:
        refused = exc
    else:  # a path that does not parse as a link is one that is not there
        assert new.error is not None, raw
        refused = new.error
    assert refused.code in ("link.invalid", "source.invalid", "source.not_found"), raw
    _coded(refused)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # a --match regex that is odd
@TOTAL
@given(raw=HOSTILE_TEXT)
def test_the_source_registry_parses_or_refuses_with_a_code(raw: str) -> None:
    """What `add`, the API's POST /jobs and the chat do with a source before anything is
    recorded: recognise it, ask its source about it (offline), and for the API, take
    it only as a remote input and name the address the guard checks."""
    sources = default_sources()
    try:
        new = intake.understand(raw, dest="link:", sources=sources)
    except FerrymanError as exc:
        _coded(exc)
    else:
        assert new.uri and new.dest == "link:"
        if new.error is not None:
            _coded(new.error)
        sources.describe(new.uri)
    try:
        uri = sources.remote_uri(raw)
        sources.address(uri)
        sources.with_profile(uri, None, True)
    except FerrymanError as exc:
        _coded(exc)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # a --match regex that is odd
@TOTAL
@given(raw=HOSTILE_TEXT)
def test_links_parse_whole_or_are_link_invalid(raw: str) -> None:
    """``split_link`` either refuses with ``link.invalid`` or answers parts whose host
    and port read without raising; the link helpers built on it never raise."""
    try:
        parts = split_link(raw)
    except FerrymanError as exc:
        assert exc.code == "link.invalid"
    else:
        assert parts.port is None or 1 <= parts.port <= 65535
        assert parts.hostname is None or parts.hostname == parts.hostname.strip()
    host_of(raw)
    is_platform(raw)
    try:
        canonical(raw)
    except FerrymanError as exc:
        assert exc.code == "link.invalid"


@pytest.mark.filterwarnings("ignore::FutureWarning")  # a --match regex that is odd
@TOTAL
@given(raw=HOSTILE_TEXT)
def test_the_destination_parser_parses_or_refuses_with_a_code(raw: str) -> None:
    """``--to``, a caption's ``to:``, the API's ``deliver``: parsed, expanded from a
    chat's shorthand, or asked for by a remote client."""
    sinks = default_sinks()
    for text in (raw, sinks.expand(raw)):
        try:
            sinks.parse(text)
        except FerrymanError as exc:
            _coded(exc)
    scheme, _, target = raw.partition(":")
    try:
        sinks.parse(sinks.for_client(scheme, target or None))
    except FerrymanError as exc:
        _coded(exc)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # a --match regex that is odd
@TOTAL
@given(raw=HOSTILE_TEXT)
def test_the_watch_parser_parses_or_refuses_with_a_code(raw: str, conf: Settings) -> None:
    """A watch's source, as every kind is asked to follow it (``--kind``: no kind asks
    the network then), and how a watch list shows it; its options' parsers too."""
    listers = default_listers()
    for kind in listers.kinds:
        try:
            chosen = asyncio.run(listers.choose(raw, conf, prefer=kind.kind))
        except FerrymanError as exc:
            _coded(exc)
        else:
            assert chosen.kind == kind.kind
            chosen.describe(raw)
    with contextlib.suppress(FerrymanError):
        assert MIN_EVERY <= parse_every(raw[-40:].lstrip(":/")) <= MAX_EVERY
    for parse in (parse_every, parse_since, lambda t: checked_regex("--match", t)):
        try:
            parse(raw)
        except FerrymanError as exc:
            _coded(exc)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # a --match regex that is odd
@TOTAL
@given(raw=HOSTILE_TEXT)
def test_the_notice_parser_parses_or_refuses_with_a_code(raw: str, conf: Settings) -> None:
    """``--notify`` (the CLI, a watch, the API's watch body): a webhook's link checked
    whole, an Apprise URL's form; what is kept is what notices go to."""
    try:
        kept = check_target(raw)
    except FerrymanError as exc:
        assert exc.code == "notify.bad_url"
        _coded(exc)
    else:
        for url in targets(kept, conf.notify):
            assert "://" in url
            if url.startswith(("ferryman://", "ferrymans://")):
                assert split_link(url).hostname


def test_a_malformed_link_in_a_watch_is_refused_before_any_kind_is_asked(
    conf: Settings,
) -> None:
    """``choose`` without ``--kind`` would ask the network (is it a feed?): a broken
    link never gets that far."""
    for raw in ("http://[::1/feed", "https://a:99999/feed.xml", "davs://a..b/x/"):
        with pytest.raises(FerrymanError) as refused:
            asyncio.run(default_listers().choose(raw, conf, prefer=None))
        assert refused.value.code == "link.invalid", raw


def test_a_feed_entry_with_a_malformed_link_is_passed_over() -> None:
    """A hostile feed's entry whose link does not parse makes no job (and does not fail
    the whole check with a ValueError)."""
    from ferryman.sources.listers.feed import _entry

    base = "https://feeds.example/rss"
    assert _entry({"link": "http://[::1/x.mp4"}, base, None) is None
    assert _entry({"link": "http://a:99999/x.mp4"}, base, None) is None
    kept = _entry({"link": "/x.mp4", "id": "1"}, base, None)
    assert kept is not None and kept.input == "https://feeds.example/x.mp4"


def test_a_watch_period_too_long_for_a_clock_is_refused() -> None:
    """``9…9d`` was a float of inf: a next check no datetime can show."""
    with pytest.raises(FerrymanError) as refused:
        parse_every("9" * 400 + "d")
    assert refused.value.code == "watch.bad_option"
    assert parse_every("366d") == MAX_EVERY


def test_a_library_path_with_a_nul_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FerrymanError) as refused:
        default_sinks().parse(f"library:{tmp_path}/a\x00b")
    assert refused.value.code == "sink.unknown"


@pytest.mark.filterwarnings("ignore::FutureWarning")
@TOTAL
@given(
    raw=st.lists(HOSTILE_TEXT, min_size=1, max_size=3).map(" ".join),
    to=st.sampled_from(["", " to: ", " to: @", " to:"]),
)
def test_the_chats_parsers_find_links_and_captions_or_refuse_with_a_code(raw: str, to: str) -> None:
    """A chat message: its links (Telegram's marked ones and those in the text), each
    as a job would be made of it, and its caption (``to:``, ``force``, an output)."""
    from ferryman.frontdoors.telegram.caption import links_in, read_caption

    sources = default_sources()
    for link in links_in(raw, [raw], sources):
        try:
            intake.understand(link, dest="link:", sources=sources)
        except FerrymanError as exc:
            _coded(exc)
    try:
        read_caption(raw + to + raw, "library:")
    except FerrymanError as exc:
        _coded(exc)
