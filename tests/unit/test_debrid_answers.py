"""Each debrid service's answers are outside input: whatever JSON (or none) a service
answers, with whatever status, each call of the face returns or raises a registered
ferryman code, never another exception; and the settings hide every debrid key."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.config import Settings, load_settings
from ferryman.config.shown import mask_secrets
from ferryman.error_codes import ERRORS
from ferryman.errors import FerrymanError
from ferryman.sources.debrid.base import Debrid, DebridFile
from ferryman.sources.debrid.services import make_service
from ferryman.sources.torbox import RateLimit

KINDS = ["torbox", "realdebrid", "alldebrid", "premiumize", "debridlink"]
_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 10**6),
        st.sampled_from(["", "x", "12", "success", "error", "downloaded", "http://h/f"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "status",
                    "data",
                    "error",
                    "error_code",
                    "id",
                    "files",
                    "links",
                    "magnets",
                    "value",
                    "success",
                    "statusCode",
                    "content",
                    "transfers",
                    "folder_id",
                    "link",
                    "download",
                    "downloadUrl",
                    "path",
                    "bytes",
                    "selected",
                    "size",
                    "name",
                    "type",
                    "hash",
                    "torrent_id",
                    "download_finished",
                    "filename",
                ]
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


class _Still:
    def __call__(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        raise AssertionError("no wait expected")


def _settings(kind: str) -> Settings:
    if kind == "torbox":
        return load_settings(None, {"torbox": {"api_key": "k", "api_base": "http://api.test"}})
    return load_settings(None, {"debrid": {kind: {"api_key": "k", "api_base": "http://api.test"}}})


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=30, deadline=None, derandomize=True)
@given(answer=_JSON, status=st.sampled_from([200, 201, 204, 400, 401, 403, 404, 500]))
def test_any_answer_is_a_value_or_a_registered_code(kind: str, answer: Any, status: int) -> None:
    body = json.dumps(answer).encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    ours = _settings(kind)
    clock = _Still()
    with httpx.Client(transport=transport) as client:
        service = make_service(kind, client, ours, RateLimit(10**6, clock, clock.sleep), ours.retry)
        file = DebridFile("1", "a.jpg", 3)
        for call in (
            lambda: service.find("ab" * 20),
            lambda: service.add_magnet(f"magnet:?xt=urn:btih:{'ab' * 20}"),
            lambda: service.add_torrent(b"d4:infode", "a.torrent"),
            lambda: service.status("1"),
            lambda: service.unlock("1", file),
        ):
            try:
                call()
            except FerrymanError as exc:
                assert exc.code in ERRORS, exc.code


def test_every_debrid_key_is_read_from_the_environment_and_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for kind in KINDS[1:]:
        monkeypatch.setenv(f"FERRYMAN_DEBRID__{kind.upper()}__API_KEY", f"secret-{kind}")
    ours = load_settings(None)
    assert ours.debrid.alldebrid.api_key == "secret-alldebrid"
    shown = mask_secrets(ours)
    assert "secret-" not in json.dumps(shown)
    assert shown["debrid"]["realdebrid"]["api_key"] == "***"


def _answering(kind: str, answer: Any, seen: list[httpx.Request]) -> Debrid:
    """A service whose every call gets ``answer`` (200), the requests kept in ``seen``."""

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer(request) if callable(answer) else answer)

    ours = _settings(kind)
    clock = _Still()
    client = httpx.Client(transport=httpx.MockTransport(reply))
    return make_service(kind, client, ours, RateLimit(10**6, clock, clock.sleep), ours.retry)


def test_alldebrid_keeps_the_key_out_of_urls_and_reads_a_status_that_trees_its_files() -> None:
    """v4.1 ``magnet/status`` (POST) may carry the files' tree itself; a folder's two
    files are two files; the key goes as a Bearer token, never in a URL."""
    tree = [
        {"n": "T", "e": [{"n": "a.jpg", "s": "3", "l": "h/1"}, {"n": "b.jpg", "s": 4, "l": "h/2"}]}
    ]
    magnet = {"id": 7, "filename": "T", "statusCode": "4", "status": "Ready", "files": tree}
    seen: list[httpx.Request] = []
    service = _answering("alldebrid", {"status": "success", "data": {"magnets": [magnet]}}, seen)
    item = service.status("7")
    assert [(f.id, f.path, f.size) for f in item.files] == [
        ("h/1", "a.jpg", 3),
        ("h/2", "b.jpg", 4),
    ]
    (asked,) = seen
    assert (asked.method, asked.url.path) == ("POST", "/v4.1/magnet/status")
    assert asked.headers["authorization"] == "Bearer k" and "apikey" not in str(asked.url)


@pytest.mark.parametrize(
    ("status", "said", "code"),
    [
        (403, {"error": "slow_down", "error_code": 5}, "debrid.rate_limited"),
        (400, {"error": "hoster_unsupported", "error_code": "16"}, "debrid.refused"),
        (400, {"error": "hoster_unavailable", "error_code": 19}, "debrid.limit"),
        (403, {"error": "fair_usage_limit", "error_code": 36}, "debrid.limit"),
    ],
)
def test_real_debrid_error_codes_of_its_docs_are_ferrymans(
    status: int, said: dict[str, Any], code: str
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=said))
    ours = _settings("realdebrid").model_copy(
        update={"retry": Settings.model_validate({}).retry.model_copy(update={"max_attempts": 0})}
    )
    clock = _Still()
    with httpx.Client(transport=transport) as client:
        limit = RateLimit(10**6, clock, clock.sleep)
        service = make_service("realdebrid", client, ours, limit, ours.retry)
        with pytest.raises(FerrymanError) as raised:
            service.add_magnet(f"magnet:?xt=urn:btih:{'ab' * 20}")
    assert raised.value.code == code and said["error"] in str(raised.value)


def test_premiumize_reads_a_one_file_transfer_by_its_file_id_not_the_folder_it_lies_in() -> None:
    """A one-file transfer names its ``file_id`` and the folder it was put in (the
    root, holding the account's other files): only the file is the transfer's."""
    transfer = {"id": "t1", "name": "a.jpg", "status": "finished", "folder_id": "root"}
    other = {"id": "x", "name": "other.jpg", "type": "file", "size": 9}

    def answer(request: httpx.Request) -> Any:
        path = request.url.path.strip("/")
        if path == "transfer/list":
            return {"status": "success", "transfers": [transfer | {"file_id": "f1"}]}
        if path == "folder/list":
            return {"status": "success", "content": [other]}
        return {"id": "f1", "name": "a.jpg", "type": "file", "size": 3, "link": "http://h/a"}

    item = _answering("premiumize", answer, [])
    found = item.status("t1")
    assert [(f.id, f.path, f.size) for f in found.files] == [("f1", "a.jpg", 3)]


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (400, "BOZO_TORRENT", "debrid.refused"),
        (400, "DOWNLOAD_TOO_LARGE", "debrid.refused"),
        (400, "PLAN_RESTRICTED_FEATURE", "debrid.premium"),
        (400, "ACTIVE_LIMIT", "debrid.limit"),
        (400, "MONTHLY_LIMIT", "debrid.limit"),
        (404, "ENDPOINT_NOT_FOUND", "torbox.api"),
        (403, "BAD_TOKEN", "torbox.auth"),
    ],
)
def test_torbox_error_codes_of_its_docs_are_ferrymans(status: int, error: str, code: str) -> None:
    said = {"success": False, "error": error, "detail": "Its words.", "data": None}
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=said))
    ours = _settings("torbox")
    clock = _Still()
    with httpx.Client(transport=transport) as client:
        service = make_service(
            "torbox", client, ours, RateLimit(10**6, clock, clock.sleep), ours.retry
        )
        with pytest.raises(FerrymanError) as uploaded:
            service.add_torrent(b"d4:infode", "a.torrent")
        with pytest.raises(FerrymanError) as added:
            service.add_magnet(f"magnet:?xt=urn:btih:{'ab' * 20}")
    for raised in (uploaded, added):
        assert raised.value.code == code and "Its words." in str(raised.value)


def test_real_debrid_reads_selected_as_text_alike() -> None:
    """``selected`` is 0 or 1: a "0" as text is a file not chosen, not a chosen one."""
    files = [
        {"id": 1, "path": "/T/a.jpg", "bytes": 3, "selected": "1"},
        {"id": 2, "path": "/T/b.nfo", "bytes": 4, "selected": "0"},
    ]
    info = {"id": "X", "filename": "T", "status": "downloaded", "files": files, "links": ["h/1"]}
    item = _answering("realdebrid", info, []).status("X")
    assert item.ready and [(f.id, f.path) for f in item.files] == [("h/1", "a.jpg")]


def test_torbox_at_its_active_limit_with_no_error_code_is_a_limit() -> None:
    """Its documented answer at the active limit names no ``error``, only the limit."""
    said = {
        "success": False,
        "error": None,
        "detail": "You have reached your active torrent download limit of 3.",
        "data": {"active_limit": 3, "current_active_downloads": 3},
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=said))
    ours = _settings("torbox")
    clock = _Still()
    with httpx.Client(transport=transport) as client:
        limit = RateLimit(10**6, clock, clock.sleep)
        service = make_service("torbox", client, ours, limit, ours.retry)
        with pytest.raises(FerrymanError) as raised:
            service.add_torrent(b"d4:infode", "a.torrent")
    assert raised.value.code == "debrid.limit" and "active torrent download limit" in str(
        raised.value
    )


def test_torbox_reads_a_queued_answer_and_an_empty_queue_answered_404() -> None:
    """``createtorrent`` at the active limit answers success with a ``queued_id`` (no
    ``torrent_id``): the item is the queued one, with the torrent's hash (a magnet's, or
    an uploaded file's). An empty queue may answer 404 ``ITEM_NOT_FOUND``: nothing
    queued, not a failure."""
    from ferryman.sources.debrid.torrent_file import read_torrent
    from tests.support.fakedebrid import Torrent, torrent_file

    upload, digest = torrent_file(Torrent("T", [("T/a.jpg", b"\xff\xd8\xff1", "image/jpeg")]))
    assert read_torrent(upload).info_hash == digest

    def reply(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/queued/getqueued"):
            gone = {"success": False, "error": "ITEM_NOT_FOUND", "detail": "None.", "data": None}
            return httpx.Response(404, json=gone)
        data: Any = [] if path.endswith("/mylist") else {"queued_id": 12, "auth_id": "a"}
        return httpx.Response(200, json={"success": True, "error": None, "data": data})

    ours = _settings("torbox")
    clock = _Still()
    with httpx.Client(transport=httpx.MockTransport(reply)) as client:
        limit = RateLimit(10**6, clock, clock.sleep)
        service = make_service("torbox", client, ours, limit, ours.retry)
        assert service.add_magnet(f"magnet:?xt=urn:btih:{'ab' * 20}") == f"queued:12:{'ab' * 20}"
        assert service.add_torrent(upload, "t.torrent") == f"queued:12:{digest}"
        assert service.find("ab" * 20) is None
        with pytest.raises(FerrymanError) as gone:
            service.status(f"queued:12:{'ab' * 20}")  # neither queued nor listed
    assert gone.value.code == "torbox.not_found"
