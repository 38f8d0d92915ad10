"""A forum group's topic per folder chosen through the API (issue 82, item 1): the
page's Telegram choice sends ``chat: -100…/topics``, and the job's destination is
``telegram:-100…/topics``; a ``me/topics`` is refused with its next step. A real
``ferryman web`` on loopback (the page itself: ``tests/browser/test_web_page_topics``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from faketg.server import FakeTelegram
from ferryman.config import load_settings
from tests.support.telegram_helpers import log_in
from tests.support.webserve import running_web

TELEGRAM = {"FERRYMAN_TELEGRAM__API_ID": "1", "FERRYMAN_TELEGRAM__API_HASH": "fakehash"}
FORUM = "-1001234567890"


def logged_in_data(data: Path) -> Path:
    """A data folder with a Telegram session (made by logging in to the fake), so a
    ``telegram:`` destination is taken (the delivery is not what is tried here)."""
    server = FakeTelegram()
    account = server.add_user("ferryman", username="ferrybot")
    telegram = {"api_id": 1, "api_hash": "fakehash"}
    settings = load_settings(None, {"data_dir": data, "telegram": telegram})
    asyncio.run(log_in(settings, server, account))
    return data


def test_a_forum_groups_topic_per_folder_is_a_destination_of_the_api(tmp_path: Path) -> None:
    data = logged_in_data(tmp_path / "data")
    with running_web(data, **TELEGRAM) as web, web.client() as client:
        deliver = {"to": "telegram", "chat": f"{FORUM}/topics"}
        made = client.post("/api/v1/jobs", json={"source": "https://127.0.0.1:9/a.zip",
                                                 "deliver": deliver})  # fmt: skip
        assert made.status_code == 202, made.text
        job = client.get(f"/api/v1/jobs/{made.json()['id']}").json()
        assert job["dest"] == f"telegram:{FORUM}/topics", job
        refused = client.post(
            "/api/v1/jobs",
            json={"source": "https://127.0.0.1:9/b.zip",
                  "deliver": {"to": "telegram", "chat": "me/topics"}},
        )  # fmt: skip
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["code"] == "sink.unknown" and "forum group" in error["message"], error
