"""A cookies.txt given through the page (issue 47, item 6): the Netscape parser is total
(any text is cookies or ``cookies.invalid`` naming the line), what is kept is what was
parsed, owner-only, loadable by yt-dlp, used for links in place of
``links.cookies_file``, and ``/api/v1/cookies`` keeps, describes (never serves back)
and removes it."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.config import Settings, load_settings
from ferryman.errors import ERRORS, FerrymanError
from ferryman.links.cookies import Cookie, KeptCookies, cookies_for, parse, parse_bytes, render

TOTAL = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
GOOD = (
    "# Netscape HTTP Cookie File\n"
    "# a comment\n\n"
    ".youtube.com\tTRUE\t/\tTRUE\t1893456000\tSID\tsecret-sid\n"
    "#HttpOnly_.x.com\tTRUE\t/\tFALSE\t0\tauth_token\tsecret-auth\n"
)
_FIELD = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20)
_LINES = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.lists(st.one_of(_FIELD, st.sampled_from(["TRUE", "FALSE", "/", "0", "#HttpOnly_"])),
                 min_size=5, max_size=8).map("\t".join),
    ),
    max_size=6,
).map("\n".join)  # fmt: skip


@TOTAL
@given(_LINES)
def test_the_parser_is_total_and_says_the_line(text: str) -> None:
    try:
        found = parse(text)
    except FerrymanError as exc:
        assert exc.code == "cookies.invalid" and ERRORS[exc.code].next_step
        assert exc.message.startswith("line ") or exc.message == "no cookie in it"
        return
    assert found and parse(render(found)) == found  # kept as parsed, read back the same


_WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_DOMAIN = st.builds(
    lambda dot, words, top: ("." if dot else "") + ".".join([*words, top]),
    st.booleans(),
    st.lists(_WORD, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "co.uk", "tv"]),
)
_COOKIES = st.lists(
    st.builds(
        Cookie,
        domain=_DOMAIN,
        subdomains=st.booleans(),
        path=_WORD.map(lambda w: "/" + w),
        secure=st.booleans(),
        expires=st.integers(0, 10**12 - 1),
        name=_WORD,
        value=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40),
        http_only=st.booleans(),
    ),
    min_size=1,
    max_size=5,
)


@TOTAL
@given(_COOKIES)
def test_any_cookies_written_are_read_back_as_they_were(cookies: list[Cookie]) -> None:
    assert parse(render(cookies)) == cookies


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "no cookie in it"),
        ("# only a comment\n", "no cookie in it"),
        ("<html>login</html>", "line 1: 1 tab-separated field,"),
        (".x.com\tMAYBE\t/\tTRUE\t0\tn\tv", "line 1: the 2nd and 4th fields are TRUE or FALSE"),
        ("# c\n.x.com\tTRUE\t/\tTRUE\tsoon\tn\tv", "line 2: the 5th field is a time"),
        (".x.com\tTRUE\tnone\tTRUE\t0\tn\tv", "line 1: a cookie has a path"),
        ("\t".join(["a"] * 9), "line 1: 9 tab-separated fields"),
    ],
)
def test_a_bad_file_is_refused_by_its_line(text: str, said: str) -> None:
    with pytest.raises(FerrymanError) as refused:
        parse(text)
    assert refused.value.code == "cookies.invalid" and refused.value.message.startswith(said)


def test_bytes_that_are_not_utf8_or_too_many_are_refused() -> None:
    for data, said in ((b"\xff\xfe\x00x", "not text"), (b"#" * (256 * 1024 + 1), "262145")):
        with pytest.raises(FerrymanError) as refused:
            parse_bytes(data)
        assert refused.value.code == "cookies.invalid" and said in refused.value.message
    assert len(parse_bytes(b"\xef\xbb\xbf" + GOOD.encode())) == 2  # a BOM is no cookie


def test_kept_cookies_are_owner_only_loadable_by_yt_dlp_and_replace_the_setting(
    tmp_path: Path,
) -> None:
    from yt_dlp.cookies import YoutubeDLCookieJar

    mine = tmp_path / "mine.txt"
    conf = load_settings(None, {"data_dir": tmp_path / "data", "links": {"cookies_file": mine}})
    run = tmp_path / "run"
    assert cookies_for(conf, run) == str(mine)  # none given through the page: the setting's
    kept = KeptCookies(conf.data_dir)
    view = kept.put(GOOD.encode())
    assert view == {**view, "kept": True, "count": 2, "sites": ["x.com", "youtube.com"]}
    assert "secret" not in repr(view)
    assert stat.S_IMODE(kept.path.stat().st_mode) == 0o600
    copy = cookies_for(conf, run)  # a copy per run: yt-dlp writes its jar back into it
    assert copy == str(run / "cookies.txt") and Path(copy).read_bytes() == kept.path.read_bytes()
    assert stat.S_IMODE(Path(copy).stat().st_mode) == 0o600
    jar = YoutubeDLCookieJar(copy)
    jar.load()
    assert {(c.domain, c.name, c.value) for c in jar} == {
        (".youtube.com", "SID", "secret-sid"),
        (".x.com", "auth_token", "secret-auth"),
    }
    with pytest.raises(FerrymanError):
        kept.put(b"not cookies")
    assert kept.view()["count"] == 2  # a refused file leaves the kept one
    assert kept.remove() and not kept.remove()
    assert kept.view()["kept"] is False and cookies_for(conf, run) == str(mine)
    assert not (run / "cookies.txt").exists()


@pytest.mark.slow  # an app with its engine: ~3 s
async def test_the_api_keeps_describes_and_removes_never_serving_the_file(
    tmp_path: Path, settings: Settings
) -> None:
    from ferryman.engine.runner import Engine
    from ferryman.store import Store
    from ferryman.web.server import web_app

    store = await Store.open(settings.database)
    try:
        engine = Engine(store, settings)
        async with (
            web_app(settings, store, engine.bus, lambda: True) as served,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=served.app), base_url="http://127.0.0.1"
            ) as client,
        ):
            assert (await client.get("/api/v1/cookies")).json()["kept"] is False
            bad = await client.put("/api/v1/cookies", content=b"<html>log in</html>")
            error = bad.json()["error"]
            assert bad.status_code == 400 and error["code"] == "cookies.invalid"
            assert error["message"].startswith("line 1") and "cookies.txt" in error["next"]
            put = await client.put("/api/v1/cookies", content=GOOD.encode())
            assert put.status_code == 200 and put.json()["count"] == 2
            shown = (await client.get("/api/v1/cookies")).json()
            assert shown["kept"] and shown["sites"] == ["x.com", "youtube.com"]
            for path in ("/api/v1/cookies", "/api/openapi.json", "/"):
                text = (await client.get(path)).text  # the API's words may say "secret"
                assert "secret-sid" not in text and "secret-auth" not in text
            assert cookies_for(settings, tmp_path / "run") == str(tmp_path / "run" / "cookies.txt")
            gone = await client.delete("/api/v1/cookies")
            assert gone.status_code == 204
            assert (await client.get("/api/v1/cookies")).json()["kept"] is False
            assert not (settings.data_dir / "cookies" / "cookies.txt").exists()
    finally:
        await store.close()
