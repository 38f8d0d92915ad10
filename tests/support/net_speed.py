"""Downloader throughput against the fault server, for a quick figure (not a test).

``python -m tests.support.net_speed SIZE_MIB [--link MIB_PER_S] [--latency SECONDS] [--cuts N]``
prints the time, the rate, whether the file came out byte-exact and the bytes served
relative to the size. Server and client share one process (and its GIL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from ferryman.config import NetworkSettings, Retry
from ferryman.net.download import download
from ferryman.net.http import make_client
from tests.support.httpserve import Faults, Link, serving

MiB = 1024**2


async def measure(size: int, link: Link, cuts: int) -> str:
    data = os.urandom(size)
    faults = Faults(cut_at=size // 2, cut_times=cuts) if cuts else Faults()
    network = NetworkSettings()  # type: ignore[call-arg]
    retry = Retry(base_seconds=0.05)  # type: ignore[call-arg]
    with serving(link) as server, tempfile.TemporaryDirectory() as folder:
        server.add("/file", data, faults=faults)
        async with make_client(network) as client:
            started = time.monotonic()
            result = await download(
                client, server.url("/file"), Path(folder), network=network, retry=retry
            )
            took = time.monotonic() - started
        exact = result.path.read_bytes() == data
        served = server.served["/file"] / size
    return (
        f"{size / MiB:.0f} MiB in {took:.2f} s = {size / took / MiB:.1f} MiB/s,"
        f" byte-exact {exact}, served {served:.3f}x the size"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("size_mib", type=int)
    parser.add_argument("--link", type=float, default=None, help="bandwidth, MiB/s")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per response")
    parser.add_argument("--cuts", type=int, default=0, help="connections cut mid-file")
    args = parser.parse_args()
    link = Link(args.link * MiB if args.link else None, args.latency)
    print(asyncio.run(measure(args.size_mib * MiB, link, args.cuts)))


if __name__ == "__main__":
    main()
