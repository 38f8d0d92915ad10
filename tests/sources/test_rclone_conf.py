"""A person's own rclone.conf (issue 81, item 1): the INI parser is total (any text is
remotes or ``rclone.conf_invalid`` naming the line), what is kept is what was parsed,
owner-only; a config whose remotes would reach the server itself (its disk, its
commands, its credentials, its private network) is refused with a registered code;
each person's runs use their own file, never another's nor the server's unless
``rclone.people_use_server`` allows it."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferryman.config import Settings, load_settings
from ferryman.engine.plumbing.personal import for_watch, person_of
from ferryman.errors import ERRORS, FerrymanError
from ferryman.net.rclone_conf import (
    KeptRclone,
    check,
    check_remotes,
    config_for,
    for_person,
    parse,
    render,
)
from ferryman.store.accounts.sql import User
from ferryman.store.watches.sql import Watch
from ferryman.web.core import _STATUS

TOTAL = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DRIVE = (
    "# made by rclone config\n"
    "[gdrive]\n"
    "type = drive\n"
    "scope = drive\n"
    'token = {"access_token":"ya29.SECRET","expiry":"2030-01-01T00:00:00Z"}\n'
    "\n"
    "[vault]\n"
    "type = crypt\n"
    "remote = gdrive:Private\n"
    "password = OBSCURED-SECRET\n"
)
_LINES = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.builds(lambda n: f"[{n}]", st.text(max_size=12)),
        st.builds(
            lambda k, v: f"{k} = {v}",
            st.sampled_from(["type", "remote", "pass", "Key", "a b", "token"]),
            st.text(max_size=20),
        ),
        st.sampled_from(["type = drive", "[DEFAULT]", "; c", "=", "[x]", "RCLONE_ENCRYPT_V0:"]),
    ),
    max_size=8,
).map("\n".join)  # fmt: skip


@TOTAL
@given(_LINES)
def test_the_parser_is_total_and_says_the_line(text: str) -> None:
    try:
        found = parse(text)
    except FerrymanError as exc:
        assert exc.code == "rclone.conf_invalid" and ERRORS[exc.code].next_step
        return
    assert found and all(r.type for r in found)
    assert parse(render(found)) == found  # kept as parsed, read back the same


def test_a_usual_config_is_read_and_taken() -> None:
    remotes = parse(DRIVE)
    assert [(r.name, r.type) for r in remotes] == [("gdrive", "drive"), ("vault", "crypt")]
    check(remotes)  # a crypt around an allowed remote of the same file


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[x]\ntype = local\n", "type local"),
        ("[m]\ntype = memory\n", "type memory"),
        ("[s]\ntype = sftp\nhost = 203.0.113.9\nkey_file = /etc/ssh/host_key\n", "key_file"),
        ("[s]\ntype = sftp\nhost = 203.0.113.9\nssh = sh -c id\n", "ssh"),
        ("[w]\ntype = webdav\nurl = https://203.0.113.9/\nbearer_token_command = id\n", "command"),
        ("[d]\ntype = drive\npassword_command = cat /etc/shadow\n", "password_command"),
        ("[d]\ntype = drive\nservice_account_file = /root/key.json\n", "service_account_file"),
        ("[b]\ntype = s3\nenv_auth = true\n", "env_auth"),
        ("[a]\ntype = azureblob\nuse_msi = true\n", "use_msi"),
        ("[w]\ntype = webdav\nurl = http://x/\nunix_socket = /run/docker.sock\n", "unix_socket"),
        ("[a]\ntype = alias\nremote = /etc\n", "not a remote of this file"),
        ("[a]\ntype = alias\nremote = :local:/etc\n", "not a remote of this file"),
        ("[a]\ntype = alias\nremote = other,type=local:/\n", "not a remote of this file"),
        ("[l]\ntype = local\n\n[a]\ntype = alias\nremote = l:/etc\n", "type local"),
        ("[l]\ntype = local\n\n[c]\ntype = crypt\nremote = l:x\npassword = p\n", "type local"),
        ("[u]\ntype = union\nupstreams = /home/a gd:x\n\n[gd]\ntype = drive\n", "/home/a"),
        ("[c]\ntype = combine\nupstreams = a=gd:x b=/srv\n\n[gd]\ntype = drive\n", "/srv"),
        ("[a]\ntype = alias\nremote = a:x\n", "wraps itself"),
        ("[a]\ntype = alias\n", "names the remote it wraps"),
        ("[w]\ntype = webdav\nurl = http://127.0.0.1:8080/\n", "private or local"),
        ("[s]\ntype = sftp\nhost = 10.0.0.5\n", "private or local"),
        ("[s]\ntype = s3\nendpoint = 169.254.169.254\n", "metadata"),
        ("[s]\ntype = sftp\nhost = localhost\n", "private or local"),
    ],
)
def test_a_config_that_reaches_the_server_is_refused(text: str, said: str) -> None:
    with pytest.raises(FerrymanError) as raised:
        check(parse(text))
    assert raised.value.code == "rclone.conf_refused", raised.value
    assert said in raised.value.message
    assert ERRORS["rclone.conf_refused"].web_step and _STATUS["rclone.conf_refused"] == 422


def test_a_private_host_the_administrator_allows_is_taken() -> None:
    remotes = parse("[nas]\ntype = webdav\nurl = http://127.0.0.1:8080/\nvendor = rclone\n")
    check(remotes, ["127.0.0.1"])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "type = drive\n",  # before any remote
        "[a]\n",  # no type
        "[a]\ntype = drive\n[a]\ntype = s3\n",  # named twice
        "[DEFAULT]\ntype = local\n",
        "[a]\ntype = drive\ntype = s3\n",
        '[a]\ntype = drive\npass = "quoted"\n',
        "[a]\ntype: drive\n",
        "RCLONE_ENCRYPT_V0:\nabcdef\n",
        "[a b ]\ntype = drive\n",
    ],
)
def test_what_is_not_an_rclone_conf_is_said(text: str) -> None:
    with pytest.raises(FerrymanError) as raised:
        parse(text)
    assert raised.value.code == "rclone.conf_invalid"


def _settings(tmp_path: Path, **rclone: object) -> Settings:
    return load_settings(None, {"data_dir": tmp_path / "data", "rclone": rclone})


def test_kept_owner_only_and_secrets_never_shown(tmp_path: Path) -> None:
    kept = KeptRclone(tmp_path / "data", 7)
    view = kept.put(DRIVE.encode())
    assert stat.S_IMODE(kept.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.folder.stat().st_mode) == 0o700
    assert kept.path == tmp_path / "data" / "rclone" / "people" / "7" / "rclone.conf"
    assert "SECRET" not in repr(view)
    remotes = view["remotes"]
    assert isinstance(remotes, list)
    assert remotes[0] == {
        "name": "gdrive", "type": "drive", "shown": {"type": "drive", "scope": "drive"},
        "secret": ["token"],
    }  # fmt: skip
    assert remotes[1]["shown"]["remote"] == "gdrive:Private"
    assert parse(kept.path.read_text()) == parse(DRIVE)
    with pytest.raises(FerrymanError):
        kept.put(b"[x]\ntype = local\n")
    assert parse(kept.path.read_text()) == parse(DRIVE)  # a refused one replaces nothing
    assert kept.remove() and not kept.remove()
    assert kept.view() == {"kept": False, "remotes": [], "since": None}


def test_each_persons_runs_use_their_own_config(tmp_path: Path) -> None:
    server = tmp_path / "server.conf"
    server.write_text("[loc]\ntype = local\n")
    s = _settings(tmp_path, config=server)
    KeptRclone(s.data_dir, 1).put(b"[anndrive]\ntype = drive\n")
    KeptRclone(s.data_dir, 2).put(b"[bobdrive]\ntype = drive\n")
    assert config_for(s, 1) == s.data_dir / "rclone" / "people" / "1" / "rclone.conf"
    assert config_for(s, None) == server  # an administrator's, the CLI's: the server's
    assert for_person(s, 1).rclone.config == config_for(s, 1)
    with pytest.raises(FerrymanError) as raised:
        config_for(s, 3)  # none of their own: never the server's
    assert raised.value.code == "rclone.no_conf" and _STATUS["rclone.no_conf"] == 403
    assert config_for(_settings(tmp_path, config=server, people_use_server=True), 3) == server
    # What a person adds names only their own remotes: another's do not exist for them.
    check_remotes(s, 1, ["rclone:anndrive:in/a.zip", "telegram:me"])
    with pytest.raises(FerrymanError) as raised:
        check_remotes(s, 1, ["library:", "rclone:bobdrive:out"])
    assert raised.value.code == "rclone.unknown_remote" and _STATUS[raised.value.code] == 404
    with pytest.raises(FerrymanError):
        check_remotes(s, 1, ["rclone:loc:/etc"])  # nor the server's
    check_remotes(s, None, ["rclone:loc:/etc"])  # the administrator's are the server's
    # The server's kept through the page comes before rclone.config.
    KeptRclone(s.data_dir).put(b"[gd]\ntype = drive\n")
    assert config_for(s, None) == s.data_dir / "rclone" / "rclone.conf"


class _People:
    """Two people (1: ann, 2: root, an administrator) and whose each watch is."""

    def __init__(self) -> None:
        self.users = {
            1: User(1, "ann", False, None, {}, None, 0.0),
            2: User(2, "root", True, None, {}, None, 0.0),
        }

    async def user(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    async def watch_accounts(self) -> dict[int, int | None]:
        return {10: 1, 11: 2, 12: None}


def _watch(watch_id: int, source: str, dest: str = "link:") -> Watch:
    return cast(Watch, SimpleNamespace(id=watch_id, source=source, dest=dest, after_delivery=None))


async def test_a_watch_of_a_remote_looks_with_its_persons_config(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    people = _People()
    assert await person_of(people, 1) == 1
    assert await person_of(people, 2) is None  # an administrator's: the server's
    assert await person_of(people, None) is None
    with pytest.raises(FerrymanError) as raised:  # hers, without a config of her own
        await for_watch(people, s, _watch(10, "rclone:gd:Camera"))
    assert raised.value.code == "rclone.no_conf"
    assert await for_watch(people, s, _watch(10, "/srv/in")) is s  # not rclone: as it was
    KeptRclone(s.data_dir, 1).put(b"[gd]\ntype = drive\n")
    hers = await for_watch(people, s, _watch(10, "feed:x", "rclone:gd:Out"))
    assert hers.rclone.config == KeptRclone(s.data_dir, 1).path
    assert (await for_watch(people, s, _watch(11, "rclone:srv:x"))).rclone.config is None
    assert (await for_watch(people, s, _watch(12, "rclone:srv:x"))).rclone.config is None
