"""rclone's connection strings (``REMOTE,key=value:path``, ``:backend,key=value:path``):
the one parser every ``rclone:`` door uses (total: a Hypothesis test), kept as typed for
rclone to read, and a person refused any (``rclone.conn_refused``) at every door: what
they add, where they send, a watch's ``move:``, and at run time however it was recorded."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.config import Settings, load_settings
from ferryman.engine.ops.who import of_user, own_dest
from ferryman.engine.plumbing.personal import for_watch, personal_settings
from ferryman.errors import ERRORS, FerrymanError
from ferryman.net.rclone_conf import KeptRclone, own_settings
from ferryman.net.rclone_path import (
    RemotePath,
    parse_remote,
    quoted,
    refuse_for_person,
    shown_dest,
    shown_remote,
)
from ferryman.sinks.builtin import default_sinks
from ferryman.sources.builtin import default_sources
from ferryman.store.accounts.sql import User
from ferryman.store.watches.sql import Watch
from ferryman.web.core import _STATUS

TOTAL = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_TRICKY = st.text(alphabet=st.sampled_from(list(":,'\"=/ .ab_-?\x00é")), max_size=30)
_NAMES = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.+@ -]{0,8}[A-Za-z0-9_]", fullmatch=True)
_KEYS = st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True)
_VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x7f"),
    max_size=12,
)
_PATHS = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x7f"),
    max_size=20,
).filter(lambda p: ".." not in p.split("/"))


@TOTAL
@given(st.one_of(_TRICKY, st.text(max_size=30)))
def test_the_parser_is_total_kept_as_typed_or_a_coded_refusal(text: str) -> None:
    try:
        found = parse_remote(text, "source.invalid", "rclone input")
    except FerrymanError as exc:
        assert exc.code == "source.invalid" and ERRORS[exc.code].next_step
        assert text in str(exc) or "control" in str(exc) or not text
        return
    assert found.text == text  # the remote part handed to rclone as it was typed
    assert found.config + ":" + found.path == text
    assert found.plain == (not text.startswith(":") and "," not in found.config)
    # The person's check tells the same by the text's shape, never raising otherwise.
    try:
        refuse_for_person([f"rclone:{text}"])
    except FerrymanError as exc:
        assert exc.code == "rclone.conn_refused" and not found.plain
    else:
        assert found.plain


@TOTAL
@given(
    st.booleans(),
    _NAMES,
    st.lists(st.tuples(_KEYS, st.one_of(st.none(), _VALUES)), max_size=4),
    _PATHS,
)
def test_a_string_made_with_rclones_quoting_reads_back_each_value(
    fly: bool, name: str, params: list[tuple[str, str | None]], path: str
) -> None:
    items = "".join(f",{k}" if v is None else f",{k}={quoted(v)}" for k, v in params)
    text = f"{':' if fly else ''}{name}{items}:{path}"
    found = parse_remote(text)
    want = tuple((k, "true" if v is None else v) for k, v in params)
    assert found == RemotePath(name, fly, want, text[: len(text) - len(path) - 1], path)


def test_rclones_own_examples_parse_as_rclone_reads_them() -> None:
    dav = parse_remote(":webdav,url='http://127.0.0.1:8080':dir")
    assert (dav.name, dav.on_the_fly, dav.params, dav.path) == (
        "webdav",
        True,
        (("url", "http://127.0.0.1:8080"),),
        "dir",
    )
    assert dav.fs("dir/sub") == ":webdav,url='http://127.0.0.1:8080':dir/sub"
    s3 = parse_remote(':s3,provider=Minio,endpoint="http://h:9000",env_auth:bucket/x')
    assert s3.params == (("provider", "Minio"), ("endpoint", "http://h:9000"), ("env_auth", "true"))
    assert parse_remote("loc,links:/tmp/x").params == (("links", "true"),)
    assert parse_remote("x,a='it''s, ok':p").params == (("a", "it's, ok"),)
    assert parse_remote('x,a="say ""hi""":p').params == (("a", 'say "hi"'),)
    assert parse_remote("x,a=:p").params == (("a", ""),)
    assert parse_remote(":local:/tmp/x").path == "/tmp/x" and parse_remote("gdrive:").plain
    for bad in ("x", "x,", "x,:p", ",a:p", "x,a='b:p", "x,a='b'c:p", "x,a b=1:p", "x,a=1", "::p"):
        with pytest.raises(FerrymanError) as caught:
            parse_remote(bad, "sink.unknown")
        assert caught.value.code == "sink.unknown", bad
    with pytest.raises(FerrymanError, match="climbs"):
        parse_remote(":local:/tmp/../etc")


def test_every_rclone_door_takes_a_connection_string_as_typed() -> None:
    """A destination (``--to``), an input (``add``): the forms the old parser refused
    with ``sink.unknown`` / ``source.invalid``."""
    sinks = default_sinks()
    for dest in ("rclone::local:/tmp/x", "rclone:loc,links:/tmp/x"):
        assert sinks.parse(dest).text == dest
    dav = "rclone::webdav,url='http://127.0.0.1:8080',vendor=rclone:in/trip.zip"
    assert sinks.parse(dav + "?media=only").text == dav + "?media=only"
    sources = default_sources()
    source = sources.for_uri(dav)
    assert source.recognise(dav) == dav
    assert source.inspect(dav).name == "trip"


def _settings(tmp_path: Path) -> Settings:
    return load_settings(None, {"data_dir": tmp_path / "data"})


PERSON = of_user(User(1, "ann", False, None, {}, None, 0.0))
ADMIN = of_user(User(2, "root", True, None, {}, None, 0.0))
CONNECTED = (
    "rclone::local:/etc",
    "rclone:anndrive,key_file=/etc/ssh/ssh_host_ed25519_key:x",
    "rclone::sftp,host=localhost:/",
    "RCLONE::local:/etc",  # the scheme in any case
)


def test_a_person_is_refused_any_connection_string_with_a_next_step(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    KeptRclone(s.data_dir, 1).put(b"[anndrive]\ntype = drive\n")
    assert _STATUS["rclone.conn_refused"] == 403
    step = ERRORS["rclone.conn_refused"]
    assert "own rclone.conf" in step.next_step and "own rclone.conf" in (step.web_step or "")
    for text in CONNECTED:
        for texts in ((text, "library:"), ("telegram:me", text)):
            with pytest.raises(FerrymanError) as caught:
                own_settings(s, 1, texts)  # what a person adds (jobs and watches)
            assert caught.value.code == "rclone.conn_refused", text
    for text in CONNECTED[:3]:  # RCLONE: is no destination (sink.unknown)
        with pytest.raises(FerrymanError) as caught:
            own_dest(PERSON, default_sinks(), text)  # a caption's to:, /settings to
        assert caught.value.code == "rclone.conn_refused"
        assert own_dest(ADMIN, default_sinks(), text) == text  # an administrator's: taken
    own_settings(s, 1, ("rclone:anndrive:in/a.zip", "rclone:anndrive:out"))  # hers: taken
    assert own_dest(PERSON, default_sinks(), "rclone:anndrive:out") == "rclone:anndrive:out"


def _watch(source: str, dest: str, then: str | None = None) -> Watch:
    return cast(Watch, SimpleNamespace(id=7, source=source, dest=dest, after_delivery=then))


class _Users:
    def __init__(self, admin: bool) -> None:
        self.admin = admin

    async def user(self, user_id: int) -> User:
        return User(user_id, "ann", self.admin, None, {}, None, 0.0)

    async def watch_accounts(self) -> dict[int, int | None]:
        return {7: 1}


async def test_a_persons_run_is_refused_one_however_it_was_recorded(tmp_path: Path) -> None:
    """At run time too: a destination, a watched folder, a watch's ``move:``."""
    s = _settings(tmp_path)
    KeptRclone(s.data_dir, 1).put(b"[anndrive]\ntype = drive\n")
    with pytest.raises(FerrymanError) as caught:
        await personal_settings(_Users(False), s, 1, ("rclone::local:/srv",))
    assert caught.value.code == "rclone.conn_refused"
    mine = await personal_settings(_Users(False), s, 1, ("rclone:anndrive:x",))
    assert mine.rclone.config == KeptRclone(s.data_dir, 1).path
    await personal_settings(_Users(True), s, 1, ("rclone::local:/srv",))  # an administrator
    watches = (
        _watch("rclone::local:/srv", "library:"),
        _watch("rclone:anndrive:in", "rclone:anndrive,key_file=/etc/x:out"),
        _watch("rclone:anndrive:in", "library:", "move::local:/srv"),
    )
    for watch in watches:
        with pytest.raises(FerrymanError) as caught:
            await for_watch(_Users(False), s, watch)
        assert caught.value.code == "rclone.conn_refused"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("gdrive:Photos", "gdrive:Photos"),
        ("loc,links:/x", "loc,links:/x"),  # no secret: as typed
        (":local:/srv/x", ":local:/srv/x"),
        (
            ":s3,provider=Minio,access_key_id=AK,secret_access_key='s:e,c':bucket/a",
            ":s3,provider=Minio,access_key_id=***,secret_access_key=***:bucket/a",
        ),
        (
            ":webdav,url='http://h:8080',pass=obscured:dir",
            ":webdav,url='http://h:8080',pass=***:dir",
        ),
        ("box,token='{\"a\":1}':f", "box,token=***:f"),
        ("not a remote", "not a remote"),  # unparsed: as it is
    ],
)
def test_a_connection_strings_secret_values_are_not_shown(typed: str, shown: str) -> None:
    assert shown_remote(typed) == shown
    assert shown_dest(f"rclone:{typed}?caption=x") == f"rclone:{shown}?caption=x"
    assert shown_dest("library:/x") == "library:/x"


_BUILT = st.builds(
    lambda fly, name, params, path: (
        (":" if fly else "") + name + "".join(f",{k}={quoted(v)}" for k, v in params) + f":{path}"
    ),
    st.booleans(),
    st.sampled_from(["s3", "gdrive", "my box"]),
    st.lists(
        st.tuples(
            st.sampled_from(["pass", "secret_access_key", "token", "url", "provider", "links"]),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
        ),
        max_size=4,
    ),
    st.text(st.characters(min_codepoint=48, max_codepoint=122), max_size=10),
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.one_of(st.text(max_size=60), _BUILT))
def test_shown_remote_is_total_and_keeps_every_secret_out(text: str) -> None:
    out = shown_remote(text)
    assert isinstance(out, str)
    try:
        found = parse_remote(text)
    except FerrymanError:
        return
    again = parse_remote(out)  # what is shown still reads as a remote
    assert again.name == found.name and again.path == found.path
    for (key, value), (key2, value2) in zip(found.params, again.params, strict=True):
        assert key == key2
        if any(word in key.lower() for word in ("pass", "secret", "token", "key")):
            assert value2 == "***"
        else:
            assert value2 == value
