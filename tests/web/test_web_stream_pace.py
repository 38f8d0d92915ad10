"""The event stream's pace: an audience of clients is woken at most every
``pace(its size)`` seconds, however fast messages come, so a thousand clients cost the
engine's event loop a bounded share (issue 56); a frame keeps each job's newest view."""

from __future__ import annotations

import asyncio
import zlib

from ferryman.web.api.events import gzip_stream, pack, takes_gzip
from ferryman.web.stream import BATCH_SECONDS, FRAMES_A_SECOND, Sent, Stream, latest, pace


def test_the_pace_grows_with_the_audience_past_the_batch() -> None:
    assert pace(0) == pace(1) == BATCH_SECONDS
    assert pace(FRAMES_A_SECOND) == 1.0
    assert pace(10 * FRAMES_A_SECOND) == 10.0


def test_a_frame_keeps_each_jobs_newest_message_in_order() -> None:
    sent = [Sent(1, 7, "a"), Sent(2, 8, "b"), Sent(3, None, "snap"), Sent(4, 7, "c")]
    assert latest(sent) == [Sent(2, 8, "b"), Sent(3, None, "snap"), Sent(4, 7, "c")]


async def test_a_big_audience_is_not_woken_again_before_its_pace() -> None:
    stream = Stream(budget=1 / 3600)  # a client an hour: only a ring due at once wakes
    with stream.joined(None), stream.joined({5}):
        first = asyncio.create_task(stream.wait_after(0, 60.0))
        await asyncio.sleep(0)
        stream.publish({"type": "job", "job": {"id": 5}})
        await asyncio.wait_for(first, 10)  # the first message: at once
        assert stream.behind(0) and not stream.behind(1)
        second = asyncio.create_task(stream.wait_after(1, 60.0))
        one_job = asyncio.create_task(stream.wait_after(1, 60.0, {5}))
        for n in range(2, 50):
            stream.publish({"type": "job", "job": {"id": 5, "n": n}})
            await asyncio.sleep(0)
        await asyncio.wait_for(one_job, 10)  # another audience: its own pace
        for _ in range(20):
            await asyncio.sleep(0)
        assert not second.done() and not stream.behind(1)  # held to the next ring
        stream.close()  # the server stops: woken at once
        await asyncio.wait_for(second, 10)


def test_server_sent_events_are_gzip_flushed_frame_by_frame_when_taken() -> None:
    assert takes_gzip("gzip, deflate, br") and takes_gzip("deflate;q=0.5, GZIP;q=0.8")
    assert not takes_gzip(None) and not takes_gzip("gzip;q=0") and not takes_gzip("br")
    assert pack(None, "retry: 1000\n\n") == b"retry: 1000\n\n"
    packed, unpack = gzip_stream(), zlib.decompressobj(31)
    view = 'data: {"job": {"id": 1, "files": ["' + "a/b/c.jpg" * 200 + '"]}}\n\n'
    for n in range(3):  # each frame whole at the client as soon as it is sent
        frame = pack(packed, f"id: e:{n}\n{view}")
        assert unpack.decompress(frame).decode() == f"id: e:{n}\n{view}"
        assert len(frame) < len(view) / 10
