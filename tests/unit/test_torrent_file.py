"""A ``.torrent`` file's identity, read from outside input: the info hash is the SHA-1
of the ``info`` bytes as they stand (a loosely written file too), any other bytes are
``source.invalid`` and nothing else; and ``.torrent`` paths become ``torrent:`` inputs
whose identity is the magnet's of the same torrent."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.errors import FerrymanError
from ferryman.sources.builtin import default_sources
from ferryman.sources.debrid.torrent_file import read_torrent
from tests.support.fakedebrid import bencode

_KEYS = st.binary(min_size=1, max_size=8)
_VALUES = st.recursive(
    st.one_of(st.integers(-(10**12), 10**12), st.binary(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    st.binary(min_size=1, max_size=30),
    st.lists(st.integers(0, 10**9), min_size=1, max_size=5),
    st.dictionaries(_KEYS, _VALUES, max_size=3),
)
def test_the_hash_is_the_info_bytes_and_the_name_and_size_are_read(
    name: bytes, lengths: list[int], extra: dict[bytes, Any]
) -> None:
    info: dict[Any, Any] = {"name": name, "piece length": 16384, "pieces": b"\0" * 20}
    info |= {k: v for k, v in extra.items() if k not in (b"name", b"files", b"length")}
    info["files"] = [{"length": n, "path": [b"f%d" % i]} for i, n in enumerate(lengths)]
    whole = bencode({"announce": "udp://t.example:80", "info": info, "zz": extra})
    got = read_torrent(whole)
    assert got.info_hash == hashlib.sha1(bencode(info)).hexdigest()
    assert got.size == sum(lengths)
    assert got.name == name.decode("utf-8", "replace").strip()


def test_a_loosely_written_info_is_hashed_as_it_stands() -> None:
    info = b"d4:name1:x6:lengthi5e12:piece lengthi16384e6:pieces20:" + b"\0" * 20 + b"e"
    whole = b"d8:announce3:abc4:info" + info + b"e"  # keys not sorted: re-encoding differs
    got = read_torrent(whole)
    assert got.info_hash == hashlib.sha1(info).hexdigest()
    assert (got.name, got.size) == ("x", 5)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_any_bytes_are_a_torrent_or_source_invalid(data: bytes) -> None:
    try:
        read_torrent(data)
    except FerrymanError as exc:
        assert exc.code == "source.invalid"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(0, 400))
def test_a_cut_torrent_is_source_invalid(cut: int) -> None:
    whole = bencode({"info": {"name": "trip", "length": 9, "pieces": b"\0" * 20}, "x": [1, 2]})
    if cut >= len(whole):
        assert read_torrent(whole).name == "trip"
        return
    with pytest.raises(FerrymanError) as refused:
        read_torrent(whole[:cut])
    assert refused.value.code == "source.invalid"


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(FerrymanError) as refused:
        read_torrent(b"d4:info" + b"l" * 10_000 + b"e" * 10_000 + b"e")
    assert refused.value.code == "source.invalid"


def test_a_torrent_path_is_a_torrent_input_with_its_magnets_identity(tmp_path: Path) -> None:
    info = {"name": "Trip", "length": 3, "piece length": 16384, "pieces": b"\0" * 20}
    path = tmp_path / "Trip.torrent"
    path.write_bytes(bencode({"info": info}))
    digest = hashlib.sha1(bencode(info)).hexdigest()
    sources = default_sources()
    uri = sources.to_uri(str(path))
    assert uri == "torrent://" + str(path)
    inspected = sources.for_uri(uri).inspect(uri)
    magnet = f"magnet:?xt=urn:btih:{digest}"
    assert inspected.ident == sources.for_uri(magnet).inspect(magnet).ident == f"btih:{digest}"
    assert (inspected.name, inspected.size) == ("Trip", 3)
    assert sources.for_uri(uri).local_path(uri) == path
    (tmp_path / "bad.torrent").write_bytes(b"not bencode")
    bad = sources.to_uri(str(tmp_path / "bad.torrent"))
    with pytest.raises(FerrymanError) as refused:
        sources.for_uri(bad).inspect(bad)
    assert refused.value.code == "source.invalid"
