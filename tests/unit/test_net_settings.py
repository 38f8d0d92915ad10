"""The [network] settings, and the net adapter's place in the layers."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from ferryman.config import load_settings
from ferryman.errors import FerrymanError, spec_for

NET = Path(__file__).resolve().parents[2] / "src" / "ferryman" / "net"
ALLOWED = (
    "ferryman.config",
    "ferryman.errors",
    "ferryman.fsutil",
    "ferryman.model",
    "ferryman.urls",
)
ALLOWED_ADAPTERS = ("ferryman.archive.names", "ferryman.media.classify", "ferryman.net")


def test_network_defaults_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for phone in ("TERMUX_VERSION", "PREFIX"):
        monkeypatch.delenv(phone, raising=False)
    defaults = load_settings(None)
    assert defaults.network.stall_seconds == 60
    assert (defaults.network.stream_archives, defaults.network.wifi_only) == ("auto", False)
    assert defaults.concurrency.fetch == 3  # not a phone: several downloads at once
    monkeypatch.setenv("FERRYMAN_NETWORK__STALL_SECONDS", "5")
    monkeypatch.setenv("FERRYMAN_CONCURRENCY__FETCH", "2")
    changed = load_settings(None)
    assert (changed.network.stall_seconds, changed.concurrency.fetch) == (5, 2)
    monkeypatch.setenv("FERRYMAN_NETWORK__STREAM_ARCHIVES", "always")
    with pytest.raises(FerrymanError) as caught:
        load_settings(None)
    assert caught.value.code == "config.invalid" and "stream_archives" in caught.value.message


def test_downloads_at_once_default_to_one_on_a_phone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Termux sets TERMUX_VERSION: one download at a time there, unless asked for more."""
    monkeypatch.delenv("PREFIX", raising=False)
    monkeypatch.setenv("TERMUX_VERSION", "0.118.0")
    assert load_settings(None).concurrency.fetch == 1
    monkeypatch.setenv("FERRYMAN_CONCURRENCY__FETCH", "2")
    assert load_settings(None).concurrency.fetch == 2
    monkeypatch.delenv("TERMUX_VERSION")
    monkeypatch.delenv("FERRYMAN_CONCURRENCY__FETCH")
    monkeypatch.setenv("PREFIX", "/data/data/com.termux/files/usr")
    assert load_settings(None).concurrency.fetch == 1


def test_network_codes_say_whether_a_retry_helps() -> None:
    retryable = {code: spec_for(code).retryable for code in (
        "source.http.status", "source.http.stalled", "source.http.changed",
        "source.http.refused", "source.auth", "source.not_found",
    )}  # fmt: skip
    assert retryable == {
        "source.http.status": True,
        "source.http.stalled": True,
        "source.http.changed": True,
        "source.http.refused": False,
        "source.auth": False,
        "source.not_found": False,
    }


def test_the_net_adapter_imports_nothing_above_it() -> None:
    for module in NET.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("ferryman"):
                    assert name in ALLOWED or name.startswith(ALLOWED_ADAPTERS), (module, name)


async def test_clients_share_the_tls_settings_made_once_per_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Making TLS settings reads the whole CA bundle (25 ms of CPU, on the event loop for
    each download, probe and read in place: before, every client made its own)."""
    import certifi

    from ferryman.config import NetworkSettings
    from ferryman.net.http import make_client, make_sync_client

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    network = NetworkSettings()  # type: ignore[call-arg]

    def context(client: Any) -> object:
        return client._transport._pool._ssl_context

    async with make_client(network) as first, make_client(network) as second:
        with make_sync_client(network) as blocking:
            assert context(first) is context(second) is context(blocking)
            monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # another CA: its own
            async with make_client(network) as other:
                assert context(other) is not context(first)
