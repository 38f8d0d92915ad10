"""A download in a child process, so a test can SIGKILL it at any byte.

Run as ``python -m tests.support.net_child <url> <folder>``; it prints the result's size.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ferryman.config import NetworkSettings, Retry
from ferryman.net.download import download
from ferryman.net.http import make_client


async def _main(url: str, folder: Path) -> None:
    network = NetworkSettings()  # type: ignore[call-arg]
    async with make_client(network) as client:
        result = await download(client, url, folder, network=network, retry=Retry())  # type: ignore[call-arg]
    print(result.size)


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], Path(sys.argv[2])))
