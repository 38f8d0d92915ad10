"""Whether the device may download now: on Wi-Fi when ``network.wifi_only``, and with
enough battery (or charging) when ``power.min_battery`` is set; and whether it has a
network at all, asked when a connection failed (``online``).

On Termux the Termux:API commands answer (``termux-wifi-connectioninfo``,
``termux-battery-status``): Android 10 and later deny reading ``/proc/net``, so the
default route cannot be read there. Elsewhere the default route's interface decides
(wireless when ``/sys/class/net/<if>/wireless`` exists or its name starts with ``wl``) and
``/sys/class/power_supply`` gives the battery. What cannot be known does not stop a
download: it is allowed, with a warning once per ``Device``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import shutil
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferryman.device.carrier import link_down
from ferryman.errors import FerrymanError
from ferryman.phone import on_phone
from ferryman.timeouts import within

log = logging.getLogger(__name__)

COMMAND_SECONDS = 10.0  # Termux:API hangs when its app is missing: then it is unknown
_NOT_ON_WIFI = {"DISCONNECTED", "DORMANT", "INACTIVE", "INTERFACE_DISABLED", "SCANNING"}
_CHARGING = {"CHARGING", "FULL"}
# Public resolvers' addresses, only looked up in the routing table (nothing is sent).
_PROBES = ((socket.AF_INET, "8.8.8.8"), (socket.AF_INET6, "2001:4860:4860::8888"))


@dataclass
class Device:
    """Reads the device's state; owns its once-only warnings (no module state)."""

    route_file: Path = Path("/proc/net/route")
    net_class: Path = Path("/sys/class/net")
    power_supply: Path = Path("/sys/class/power_supply")
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    warned: set[str] = field(default_factory=set)

    @property
    def termux(self) -> bool:
        return on_phone(self.env)

    async def check(self, wifi_only: bool, min_battery: int) -> FerrymanError | None:
        """The first condition not met, as a coded wait; None: go ahead."""
        if wifi_only:
            on_wifi = await self.on_wifi()
            if on_wifi is None:
                self._warn_once("wifi", "cannot tell whether this is Wi-Fi; downloading anyway")
            elif not on_wifi:
                return FerrymanError(
                    "network.metered", "not on Wi-Fi (network.wifi_only): waiting for Wi-Fi"
                )
        if min_battery > 0:
            battery = await self.battery()
            if battery is None:
                self._warn_once("battery", "cannot read the battery; downloading anyway")
            elif battery[0] < min_battery and not battery[1]:
                return FerrymanError(
                    "power.low",
                    f"battery {battery[0]} % < {min_battery} % (power.min_battery),"
                    " not charging: waiting",
                )
        return None

    async def on_wifi(self) -> bool | None:
        if self.termux:
            info = await self._termux_json("termux-wifi-connectioninfo")
            if info is None:
                return None
            state = str(info.get("supplicant_state", "")).upper()
            ip = str(info.get("ip", ""))
            return state not in _NOT_ON_WIFI and ip not in ("", "0.0.0.0")
        return await asyncio.to_thread(self._route_is_wireless)

    async def battery(self) -> tuple[int, bool] | None:
        """(percent, charging), or None when there is no battery to read."""
        if self.termux:
            info = await self._termux_json("termux-battery-status")
            if info is None or "percentage" not in info:
                return None
            charging = str(info.get("status", "")).upper() in _CHARGING or str(
                info.get("plugged", "UNPLUGGED")
            ).upper() not in ("UNPLUGGED", "")
            return int(info["percentage"]), charging
        return await asyncio.to_thread(self._sys_battery)

    def online(self) -> bool | None:
        """Whether the device has a route out at all (False: none, a phone in airplane
        mode or a tunnel; None: cannot tell). A UDP ``connect`` asks the routing table
        and sends nothing; it works where ``/proc/net`` is denied (Android 10+). A route
        whose link has no carrier (a pulled cable, a Wi-Fi that dropped with its
        address kept) stays in the table marked linkdown, so the link is asked too."""
        told: bool | None = None
        for family, address in _PROBES:
            try:
                with socket.socket(family, socket.SOCK_DGRAM) as probe:
                    probe.connect((address, 53))
                    local = str(probe.getsockname()[0])
            except OSError as exc:
                if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
                    told = False
                continue
            if link_down(local):
                told = False
                continue
            return True
        return told

    def _route_is_wireless(self) -> bool | None:
        try:
            lines = self.route_file.read_text().splitlines()[1:]
        except OSError:
            return None
        for line in lines:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "00000000":  # the default route
                name = fields[0]
                return name.startswith("wl") or (self.net_class / name / "wireless").exists()
        return None

    def _sys_battery(self) -> tuple[int, bool] | None:
        try:
            supplies = sorted(self.power_supply.iterdir())
        except OSError:
            return None
        for supply in supplies:
            try:
                if (supply / "type").read_text().strip() != "Battery":
                    continue
                percent = int((supply / "capacity").read_text().strip())
                status = (supply / "status").read_text().strip().upper()
            except (OSError, ValueError):
                continue
            return percent, status in _CHARGING
        return None

    async def _termux_json(self, command: str) -> dict[str, Any] | None:
        found = shutil.which(command, path=self.env.get("PATH"))
        if found is None:
            self._warn_once(
                command, f"{command} not found (install Termux:API: pkg install termux-api)"
            )
            return None
        try:
            proc = await asyncio.create_subprocess_exec(
                found,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # so a hung command goes with all it started
            )
        except OSError:
            return None
        try:
            out, _ = await within(proc.communicate(), COMMAND_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # a child holding the pipe would block
            await proc.wait()
            self._warn_once(command, f"{command} did not answer (is the Termux:API app installed?)")
            return None
        try:
            data = json.loads(out or b"null")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            log.warning("%s", message)
