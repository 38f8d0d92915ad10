"""Who is asking, as `ferryman web` runs (a child process, real HTTP): X-Forwarded-For
is believed only from a proxy named in ``web.trusted_proxies``. Without one, a client
that names a new address on each try still spends its own address's sign-in budget,
and the audit records the address it came from."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ferryman.web import guard
from tests.support import forked
from tests.support.webserve import running_web, web_env

pytestmark = pytest.mark.slow

SIGN_IN = "/api/v1/session/password"
CSRF = {"x-ferryman-csrf": "1"}


def _add_user(data: Path, name: str) -> None:
    done = forked.run(
        ["user", "add", name],
        env=web_env(data, FERRYMAN_PASSWORD=f"pw-{name}-long"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_forwarded_for_is_believed_only_from_a_named_proxy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _add_user(data, "ann")
    token, hashed = guard.new_token()
    admin = {"authorization": f"Bearer {token}"}
    env = {"FERRYMAN_WEB__RATE_LIMIT": "5", "FERRYMAN_WEB__TOKENS": json.dumps([hashed])}

    def sign_ins(client: httpx.Client, addresses: list[str], password: str) -> list[int]:
        return [
            client.post(
                SIGN_IN,
                json={"name": "ann", "password": password},
                headers={"x-forwarded-for": address},
            ).status_code
            for address in addresses
        ]

    def audited(client: httpx.Client) -> list[str]:
        rows = client.get("/api/v1/audit", headers=admin).json()["audit"]
        return [row["address"] for row in rows if row["action"].startswith("sign_in")]

    with running_web(data, **env) as web, web.client(headers=CSRF) as client:
        forged = [f"203.0.113.{n}" for n in range(8)]
        assert sign_ins(client, forged, "wrong") == [401] * 5 + [429] * 3
        # The budget is the connection's: the right password waits too.
        assert sign_ins(client, ["198.51.100.9"], "pw-ann-long") == [429]
        assert set(audited(client)) == {"127.0.0.1"}

    # Behind a proxy the page is told of (here: this machine), the address it forwards
    # is the person's: each has its own budget, and the audit names it.
    trusted = {**env, "FERRYMAN_WEB__TRUSTED_PROXIES": '["127.0.0.1"]'}
    with running_web(data, **trusted) as web, web.client(headers=CSRF) as client:
        assert sign_ins(client, ["198.51.100.1", "198.51.100.2"], "wrong") == [401, 401]
        assert sign_ins(client, ["198.51.100.3"], "pw-ann-long") == [204]
        assert audited(client)[:3] == ["198.51.100.3", "198.51.100.2", "198.51.100.1"]
