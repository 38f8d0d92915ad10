"""The one owner rule's destinations (``engine/ops/who.own_dest``), as every door asks it:
a person's places are what a client may name, their own library folder and the places
an administrator allowed; an administrator's and the machine's own are taken as they
are."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.engine.ops.who import ADMIN, MACHINE, NOBODY, Who, own_dest, own_library
from ferryman.errors import FerrymanError
from ferryman.sinks.builtin import default_sinks

SINKS = default_sinks()


def _person(tmp_path: Path, folder: bool = True) -> Who:
    settings = {"library": str(tmp_path / "mine")} if folder else {}
    return Who(7, "mal", False, settings)


@pytest.mark.parametrize(
    "dest",
    ["library:/srv/media", "library:relative/dir", "library:/", "library:../mine"],
)
def test_a_server_folder_is_no_persons_place(tmp_path: Path, dest: str) -> None:
    for who in (_person(tmp_path), _person(tmp_path, folder=False), NOBODY):
        with pytest.raises(FerrymanError) as refused:
            own_dest(who, SINKS, dest)
        assert refused.value.code == "account.dest_forbidden"
    assert own_dest(ADMIN, SINKS, dest) == dest
    assert own_dest(MACHINE, SINKS, dest) == dest


def test_a_persons_places(tmp_path: Path) -> None:
    mal = _person(tmp_path)
    mine = f"library:{tmp_path / 'mine'}"
    assert own_dest(mal, SINKS, "library:") == mine
    assert own_dest(mal, SINKS, mine) == mine
    assert own_dest(mal, SINKS, "library:?caption=x") == f"{mine}?caption=x"
    assert own_dest(_person(tmp_path, folder=False), SINKS, "library:") == "library:"
    for chat in ("telegram:me", "telegram:@her_channel", "telegram:-1001234", "link:"):
        assert own_dest(mal, SINKS, chat) == chat
    allowed = ("library:/srv/chat-default",)
    assert own_dest(mal, SINKS, "library:/srv/chat-default", allowed) == allowed[0]
    with pytest.raises(FerrymanError) as unknown:
        own_dest(mal, SINKS, "nowhere:x")
    assert unknown.value.code == "sink.unknown"  # a typo is a typo, not a refusal


def test_own_library_leaves_a_named_folder_and_no_account_alone(tmp_path: Path) -> None:
    mal = _person(tmp_path)
    assert own_library("library:/elsewhere", mal) == "library:/elsewhere"
    assert own_library("library:", MACHINE) == "library:"
    assert own_library("link:", mal) == "link:"
