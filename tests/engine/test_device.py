"""A phone's conditions: stand-in Termux:API commands on PATH print what the real ones
print; off Termux, a route table and power-supply folders the test writes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
from pathlib import Path

import pytest

from ferryman.config import Settings
from ferryman.device import conditions
from ferryman.device.conditions import Device
from ferryman.device.wakelock import WakeLock
from ferryman.engine.ops import intake
from ferryman.engine.runner import Engine
from ferryman.model import JobState
from ferryman.phone import (
    PHONE_LOOKAHEAD,
    PHONE_THREADS,
    SERVER_FETCHES,
    default_fetches,
    default_lookahead,
    default_threads,
    on_phone,
)
from ferryman.samples import make_photo_set, make_video, make_zip
from ferryman.store import Store
from tests.support.engine_helpers import library_files, run_until_idle
from tests.support.httpserve import serving
from tests.support.waiting import eventually

SYSTEM_PATH = os.environ.get("PATH", "/usr/bin:/bin")  # for the stand-ins' cat and sleep
WIFI = {
    "bssid": "aa:bb:cc:dd:ee:ff",
    "frequency_mhz": 2412,
    "ip": "192.168.1.23",
    "link_speed_mbps": 72,
    "mac_address": "02:00:00:00:00:00",
    "network_id": 3,
    "rssi": -51,
    "ssid": "home",
    "ssid_hidden": False,
    "supplicant_state": "COMPLETED",
}
MOBILE = WIFI | {
    "bssid": None,
    "ip": "0.0.0.0",
    "ssid": "<unknown ssid>",
    "supplicant_state": "DISCONNECTED",
    "network_id": -1,
}


def battery(percent: int, status: str, plugged: str) -> dict[str, object]:
    return {
        "health": "GOOD",
        "percentage": percent,
        "plugged": plugged,
        "status": status,
        "temperature": 29.5,
        "current": -320000,
    }


def termux(tmp: Path, **answers: object) -> Device:
    """A Device on 'Termux' whose commands print ``answers`` (None: the command hangs)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, answer in answers.items():
        script = bin_dir / name.replace("_", "-")
        body = "sleep 30" if answer is None else f"cat <<'EOF'\n{json.dumps(answer)}\nEOF"
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    return Device(env={"PATH": f"{bin_dir}:{SYSTEM_PATH}", "TERMUX_VERSION": "0.118.0"})


async def test_on_wifi_nothing_waits(tmp_path: Path) -> None:
    device = termux(tmp_path, termux_wifi_connectioninfo=WIFI)
    assert await device.on_wifi() is True
    assert await device.check(wifi_only=True, min_battery=0) is None


async def test_on_mobile_data_a_wifi_only_download_waits(tmp_path: Path) -> None:
    device = termux(tmp_path, termux_wifi_connectioninfo=MOBILE)
    assert await device.on_wifi() is False
    waiting = await device.check(wifi_only=True, min_battery=0)
    assert waiting is not None and waiting.code == "network.metered" and waiting.retryable
    assert await device.check(wifi_only=False, min_battery=0) is None


async def test_unknown_network_allows_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conditions, "COMMAND_SECONDS", 0.3)
    hanging = termux(tmp_path, termux_wifi_connectioninfo=None)
    missing = Device(env={"PATH": SYSTEM_PATH, "TERMUX_VERSION": "0.118.0"})
    with caplog.at_level(logging.WARNING, logger="ferryman.device.conditions"):
        for device in (hanging, missing):
            assert await device.check(wifi_only=True, min_battery=0) is None
            assert await device.check(wifi_only=True, min_battery=0) is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 4, warnings  # per device: the command, then "cannot tell", once
    assert sum("did not answer" in w for w in warnings) == 1
    assert sum("not found" in w for w in warnings) == 1


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (battery(15, "DISCHARGING", "UNPLUGGED"), "power.low"),
        (battery(15, "CHARGING", "PLUGGED_USB"), None),
        (battery(35, "DISCHARGING", "UNPLUGGED"), None),
    ],
)
async def test_a_low_battery_waits_unless_charging(
    tmp_path: Path, answer: dict[str, object], code: str | None
) -> None:
    device = termux(tmp_path, termux_battery_status=answer)
    waiting = await device.check(wifi_only=False, min_battery=20)
    assert (waiting.code if waiting else None) == code


def _route(tmp: Path, interface: str) -> Path:
    table = tmp / "route"
    table.write_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
        f"{interface}\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\n"
        f"{interface}\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\n"
    )
    return table


@pytest.mark.parametrize(
    ("interface", "wireless_dir", "expected"),
    [("wlan0", False, True), ("enp3s0", True, True), ("eth0", False, False)],
)
async def test_off_termux_the_default_route_decides(
    tmp_path: Path, interface: str, wireless_dir: bool, expected: bool
) -> None:
    net = tmp_path / "net"
    (net / interface).mkdir(parents=True)
    if wireless_dir:
        (net / interface / "wireless").mkdir()
    device = Device(route_file=_route(tmp_path, interface), net_class=net, env={})
    assert await device.on_wifi() is expected
    missing = Device(route_file=tmp_path / "none", env={})
    assert await missing.on_wifi() is None


async def test_off_termux_the_battery_comes_from_sysfs(tmp_path: Path) -> None:
    supply = tmp_path / "power" / "BAT0"
    supply.mkdir(parents=True)
    (supply / "type").write_text("Battery\n")
    (supply / "capacity").write_text("12\n")
    (supply / "status").write_text("Discharging\n")
    device = Device(power_supply=tmp_path / "power", env={})
    waiting = await device.check(wifi_only=False, min_battery=20)
    assert waiting is not None and waiting.code == "power.low"
    (supply / "status").write_text("Charging\n")
    assert await device.check(wifi_only=False, min_battery=20) is None
    no_battery = Device(power_supply=tmp_path / "nothing", env={})
    assert await no_battery.battery() is None


async def test_a_link_waits_for_wifi_uncounted_then_goes(
    tmp_path: Path, settings: Settings
) -> None:
    photos = make_photo_set(tmp_path / "p", 3)
    data = make_zip(tmp_path / "trip.zip", [(p.name, p) for p in photos]).read_bytes()
    answer = tmp_path / "bin" / "termux-wifi-connectioninfo"
    device = termux(tmp_path, termux_wifi_connectioninfo=MOBILE)
    settings = settings.model_copy(
        update={
            "network": settings.network.model_copy(
                update={"wifi_only": True, "recheck_seconds": 0.2}
            )
        }
    )
    with serving() as web:
        web.add("/trip.zip", data, content_type="application/zip")
        store = await Store.open(settings.database)
        engine = Engine(store, settings, device=device)
        # Added first: an engine run until idle that starts on an empty store may end
        # before a job added as it starts is there (a faster start did).
        job = await intake.add_source(store, web.url("/trip.zip"))
        running = asyncio.create_task(engine.run(until_idle=True))
        try:

            async def waits_for_wifi() -> bool:
                return (await store.get_job(job.id)).wait_reason == "network.metered"

            await eventually(waits_for_wifi, "the job waiting for Wi-Fi")
            calls = tmp_path / "asked"  # each recheck asks the phone again: counted
            answer.write_text(
                f"#!/bin/sh\necho >> '{calls}'\ncat <<'EOF'\n{json.dumps(MOBILE)}\nEOF\n"
            )
            await eventually(
                lambda: calls.exists() and len(calls.read_text().splitlines()) >= 3,
                "three rechecks on mobile data",
            )
            fetch = await store.fetched(job.id)
            # Waiting (or looking again right now), and no attempt counted for it.
            assert fetch is not None and fetch.state in ("queued", "fetching")
            assert fetch.attempts == 0
            assert web.served["/trip.zip"] == 0  # not a byte over mobile data
            answer.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(WIFI)}\nEOF\n")
            await asyncio.wait_for(running, 60)
            done = await store.get_job(job.id)
        finally:
            engine.stop()
            await store.close()
    assert done.state is JobState.DONE
    assert len(library_files(settings.library)) == 3


async def test_the_phone_is_kept_awake_while_jobs_run_and_let_go_when_idle(
    tmp_path: Path, settings: Settings
) -> None:
    log_file = tmp_path / "wake.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, word in (("termux-wake-lock", "lock"), ("termux-wake-unlock", "unlock")):
        (bin_dir / name).write_text(f"#!/bin/sh\necho {word} >> '{log_file}'\n")
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:{SYSTEM_PATH}", "TERMUX_VERSION": "0.118.0"}
    photos = make_photo_set(tmp_path / "p", 4)
    store = await Store.open(settings.database)
    try:
        await Engine(store, settings, device=Device(env=env)).run(until_idle=True)
        assert not log_file.exists()  # nothing to do: the phone may sleep
        await intake.add_source(store, str(tmp_path / "p"))
        await Engine(store, settings, device=Device(env=env)).run(until_idle=True)
    finally:
        await store.close()
    assert log_file.read_text().split() == ["lock", "unlock"]
    assert len(library_files(settings.library)) == len(photos)


TERMUX_PREFIX = "/data/data/com.termux/files/usr"


@pytest.mark.parametrize(
    ("env", "phone"),
    [
        ({"TERMUX_VERSION": "0.118.0"}, True),
        ({"PREFIX": TERMUX_PREFIX}, True),  # a Termux:Boot script, a service
        ({"PREFIX": "/data/user/10/com.termux/files/usr"}, True),  # a second user's
        ({"PREFIX": "/usr/local"}, False),
        ({"PREFIX": "/usr"}, False),  # a build script's or packager's, on any Linux
        ({"PREFIX": "/home/me/.local/usr"}, False),
        ({}, False),
    ],
)
def test_every_part_tells_a_phone_the_same_way(
    env: dict[str, str], phone: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defaults, the device's conditions, the wake lock and ``service install`` ask
    one function (``phone.on_phone``): the wake lock once missed a phone
    that only its prefix named, and so let a boot script's engine sleep."""
    assert on_phone(env) is phone
    assert Device(env=env).termux is phone
    assert WakeLock(env, enabled=True).enabled is phone
    for name in ("TERMUX_VERSION", "PREFIX"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert on_phone() is phone
    assert default_fetches() == (1 if phone else SERVER_FETCHES)
    assert default_threads() == (PHONE_THREADS if phone else 0)  # FFmpeg's threads cost memory
    assert default_lookahead() == (PHONE_LOOKAHEAD if phone else None)  # so do x264's frames


async def test_a_phones_encoder_settings_reach_the_transcode(
    tmp_path: Path, settings: Settings
) -> None:
    """The convert stage hands ``convert.threads`` and ``convert.lookahead`` (a phone's
    defaults: 2 and 5, for memory) to x264, which writes them into the stream (an SEI)."""
    convert = settings.convert.model_copy(update={"threads": PHONE_THREADS, "lookahead": 4})
    settings = settings.model_copy(update={"convert": convert})
    clip = make_video(tmp_path / "h.mkv", 3, vcodec="libx265", acodec=None)
    store = await Store.open(settings.database)
    try:
        await intake.add_source(store, str(clip))
        await run_until_idle(store, settings)
    finally:
        await store.close()
    [converted] = library_files(settings.library)
    assert converted["actions"] == ["transcode"]
    written = await asyncio.to_thread(Path(converted["path"]).read_bytes)
    assert set(re.findall(rb" (?:threads|rc_lookahead)=\d+ ", written)) == {
        f" threads={PHONE_THREADS} ".encode(),
        b" rc_lookahead=4 ",
    }


class _NoCarrierReader(Device):
    """A device whose network look fails as it did where psutil was not installed."""

    def online(self) -> bool | None:
        raise ImportError("No module named 'psutil'")


async def test_a_fault_in_the_network_look_ends_the_job_with_its_code(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 56: an unknown host's failure asks whether the device has a network at all;
    that look raising (an ImportError) failed the fetch step itself, whose lease lapsed
    and whose job ran again, never counted: forever, a traceback each time."""
    fast = settings.retry.model_copy(update={"base_seconds": 0.05, "max_seconds": 0.2})
    settings = settings.model_copy(update={"retry": fast})
    store = await Store.open(settings.database)
    try:
        job = await intake.add_source(store, "http://no-such-host.invalid/x.zip", settings=settings)
        engine = Engine(store, settings, device=_NoCarrierReader())
        await asyncio.wait_for(engine.run(until_idle=True), 60)
        done = await store.get_job(job.id)
    finally:
        await store.close()
    assert (done.state, done.error_code) == (JobState.FAILED, "source.host_unknown")
    faults = [r for r in caplog.records if r.exc_info and "psutil" in str(r.exc_info[1])]
    assert 1 <= len(faults) <= 2  # the first answer and the one confirming it: no more


def test_the_carrier_is_read_as_psutil_reads_it() -> None:
    """``device.carrier`` reads getifaddrs through ctypes (no psutil at run time: it has
    no wheel for Android); psutil, a development tool, is the oracle: the same
    interfaces, addresses and carrier."""
    import psutil

    from ferryman.device import carrier

    read = carrier.interfaces()
    stats = psutil.net_if_stats()
    theirs = {
        (name, a.address.split("%", 1)[0], stats[name].isup)
        for name, addresses in psutil.net_if_addrs().items()
        for a in addresses
        if a.family in (socket.AF_INET, socket.AF_INET6) and name in stats
    }
    assert read and {(n, a, bool(f & carrier.IFF_RUNNING)) for n, f, a in read} == theirs
    assert not carrier.link_down("127.0.0.1")  # loopback runs
    assert not carrier.link_down("203.0.113.9")  # no interface holds it: the route is believed
