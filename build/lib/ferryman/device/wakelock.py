"""Keep a phone awake while jobs run: Android stops a Termux process whose screen is off
within minutes unless it holds a wake lock (``termux-wake-lock``), and a lock held for
ever drains the battery. The engine holds it while work remains and lets it go when
idle. Off Termux (or with ``power.wake_lock = false``) it does nothing."""

from __future__ import annotations

import asyncio
import logging
import shutil

from ferryman.phone import on_phone
from ferryman.timeouts import within

log = logging.getLogger(__name__)

COMMAND_SECONDS = 10.0


class WakeLock:
    """The lock, held or not; ``hold``/``let_go`` run the Termux command only on change."""

    def __init__(self, env: dict[str, str], enabled: bool) -> None:
        self.env = env
        self.enabled = enabled and on_phone(env)  # a Termux:Boot service too
        self.held = False

    async def hold(self) -> None:
        if self.enabled and not self.held:
            self.held = await self._run("termux-wake-lock")

    async def let_go(self) -> None:
        if self.held:
            await self._run("termux-wake-unlock")
            self.held = False

    async def _run(self, command: str) -> bool:
        found = shutil.which(command, path=self.env.get("PATH"))
        if found is None:
            log.warning("%s not found: the phone may sleep during long jobs", command)
            self.enabled = False  # say it once
            return False
        try:
            proc = await asyncio.create_subprocess_exec(
                found,
                env=self.env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await within(proc.wait(), COMMAND_SECONDS)
        except (OSError, TimeoutError):
            log.warning("%s failed; the phone may sleep during long jobs", command)
            return False
        return proc.returncode == 0
