"""Each person's own rclone.conf (issue 81, item 1), through `ferryman web` as run (a
child process with its engine) and ``rclone serve webdav`` on loopback: a person's
``rclone:`` jobs read and write through their own remotes; another person's remotes do
not exist for them (404), nor do the server's; a config that would reach the server
itself is refused (422) with a next step; secrets are never shown back; the file is
kept owner-only."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image

from ferryman.net.rclone import rclone_binary
from tests.support import forked
from tests.support.rclone_serve import serve
from tests.support.waiting import eventually_sync
from tests.support.webserve import WebServer, running_web, web_env

BINARY = rclone_binary()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BINARY is None, reason="rclone is not installed here"),
]


def _add_user(data: Path, name: str, *flags: str) -> None:
    done = forked.run(
        ["user", "add", name, *flags],
        env=web_env(data, FERRYMAN_PASSWORD=f"pw-{name}-long"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@contextmanager
def _signed_in(web: WebServer, name: str) -> Iterator[httpx.Client]:
    with web.client(headers={"x-ferryman-csrf": "1"}) as client:
        answer = client.post(
            "/api/v1/session/password", json={"name": name, "password": f"pw-{name}-long"}
        )
        assert answer.status_code == 204, answer.text
        yield client


def _error(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["next"], error


def test_a_persons_rclone_jobs_use_their_own_remotes_alone(tmp_path: Path) -> None:
    assert BINARY is not None
    data = tmp_path / "data"
    dav = tmp_path / "dav"
    photo = dav / "in" / "photo.jpg"
    photo.parent.mkdir(parents=True)
    Image.new("RGB", (120, 90), (30, 90, 150)).save(photo, quality=90)
    _add_user(data, "ann")
    _add_user(data, "bob")
    source = {"source": "rclone:anndav:in/photo.jpg"}
    to_her_dav = {"to": "rclone", "chat": "anndav:out"}

    with (
        serve(BINARY, "webdav", dav, "anndav") as conf,
        running_web(data, FERRYMAN_NETWORK__PRIVATE_ALLOWED='["127.0.0.1"]') as web,
        _signed_in(web, "ann") as ann,
        _signed_in(web, "bob") as bob,
    ):
        secret = conf.split("pass = ")[1].split()[0]
        # Refused: what would reach the server itself, with a next step; nothing kept.
        _error(
            ann.put("/api/v1/rclone", content=b"[disk]\ntype = local\n"), 422, "rclone.conf_refused"
        )
        alias = b"[etc]\ntype = alias\nremote = /etc\n"
        _error(ann.put("/api/v1/rclone", content=alias), 422, "rclone.conf_refused")
        command = b"[d]\ntype = drive\npassword_command = cat /etc/shadow\n"
        _error(ann.put("/api/v1/rclone", content=command), 422, "rclone.conf_refused")
        _error(ann.put("/api/v1/rclone", content=b"type = drive\n"), 422, "rclone.conf_invalid")
        assert ann.get("/api/v1/rclone").json()["kept"] is False

        kept = ann.put("/api/v1/rclone", content=conf.encode())
        assert kept.status_code == 200, kept.text
        assert [(r["name"], r["type"]) for r in kept.json()["remotes"]] == [("anndav", "webdav")]
        assert "pass" in kept.json()["remotes"][0]["secret"]
        assert secret not in kept.text and secret not in ann.get("/api/v1/rclone").text
        (file,) = (data / "rclone" / "people").glob("*/rclone.conf")
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
        assert bob.get("/api/v1/rclone").json()["kept"] is False  # hers is not his

        # Bob cannot reach her remote: without a config of his own, then with one.
        _error(bob.post("/api/v1/jobs", json=source), 403, "rclone.no_conf")
        assert bob.put("/api/v1/rclone", content=b"[bobdrive]\ntype = drive\n").status_code == 200
        _error(bob.post("/api/v1/jobs", json=source), 404, "rclone.unknown_remote")
        mine = {"source": "rclone:bobdrive:x.jpg", "deliver": to_her_dav}
        _error(bob.post("/api/v1/jobs", json=mine), 404, "rclone.unknown_remote")

        # Hers: read from her WebDAV and sent back to it, through her own config.
        made = ann.post("/api/v1/jobs", json={**source, "deliver": to_her_dav})
        assert made.status_code == 202, made.text
        view = web.wait_for(
            made.json()["id"], ("done", "failed"), headers=ann.headers, cookies=ann.cookies
        )
        assert view["status"] == "done", view
        sent = [p for p in (dav / "out").rglob("*.jpg")]
        want = hashlib.sha256(photo.read_bytes()).hexdigest()
        assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in sent] == [want], sent

        # A watch is the same: his naming her remote is refused before it is recorded;
        # hers lists her folder and sends its files on, through her file.
        theirs = {"source": "rclone:anndav:in", "to": "link:", "since": "all"}
        _error(bob.post("/api/v1/watches", json=theirs), 404, "rclone.unknown_remote")
        watch = ann.post("/api/v1/watches", json={**theirs, "to": "rclone:anndav:watched"})
        assert watch.status_code == 201, watch.text
        looked = ann.post(f"/api/v1/watches/{watch.json()['id']}/check")
        assert looked.status_code == 200, looked.text

        def sent_on() -> list[str]:
            return [
                hashlib.sha256(p.read_bytes()).hexdigest() for p in dav.glob("watched/**/*.jpg")
            ]

        eventually_sync(lambda: sent_on() == [want], "the watch's file on her WebDAV", within=90)

        reached = ann.get("/api/v1/rclone/reach")
        assert reached.status_code == 200, reached.text
        assert [(r["remote"].rstrip(":"), r["ok"]) for r in reached.json()["remotes"]] == [
            ("anndav", True)
        ]
        assert ann.delete("/api/v1/rclone").status_code == 204
        _error(ann.post("/api/v1/jobs", json={**source, "force": True}), 403, "rclone.no_conf")
