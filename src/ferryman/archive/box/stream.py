"""An archive streamed from a link, read by libarchive in its box (``archive.box.reader``).

A tar read as it downloads ran libarchive on the engine's reading thread, where a
malformed one could spin for good. Here a forked child reads it from a pipe, and a
thread of the engine's (the pump) copies the download into that pipe: the network
stays the engine's (its stalls, resumes by Range and codes are the stream's own), the
decoding is the child's. The pipe holds 1 MiB, so the pump waits for the child and
the download is never buffered whole.

The watchdog tells the two stalls apart: while the pump waits on the network the
child's silence is not its fault (the stream ends it with its own code); a child that
neither sends nor reads while the pump is blocked writing to it, or has written
everything, is a decoder stall (``archive.decoder_failed``). A streamed archive has no
file for 7zz, so there is no second decoder: the input ends with that code.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import threading
from pathlib import Path

from ferryman.archive.box.reader import BoxedLibarchiveReader, cpu_budget, fork_fed
from ferryman.archive.box.wire import DONE, ERROR, Request
from ferryman.archive.reader import OpenOptions
from ferryman.errors import FerrymanError

_PIECE = 1 << 20  # at most this many bytes read from the stream, then written
_JOIN_SECONDS = 5.0  # a pump in a network read when the reader closes: left to end


class _Pump:
    """Copies ``stream`` into the pipe ``fd`` on a thread of its own, in the context of
    the thread that made it (its network work is cut short by the same stop)."""

    def __init__(self, stream: io.BufferedIOBase, fd: int) -> None:
        self.error: BaseException | None = None  # the stream's failure, not the child's
        self._stream = stream
        self._fd = fd
        self._writing = False
        self._finished = threading.Event()
        self._stop = threading.Event()
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name="archive-pump", daemon=True
        )
        self._thread.start()

    @property
    def on_the_network(self) -> bool:
        """Whether it waits for the stream's bytes (not for the child to take them)."""
        return not self._writing and not self._finished.is_set()

    def _run(self) -> None:
        buffer = memoryview(bytearray(_PIECE))
        read = self._stream.readinto1  # what came: a failure next loses none of it
        try:
            while not self._stop.is_set():
                got = read(buffer)
                if not got:
                    break
                self._writing = True
                view = buffer[:got]
                while view:
                    view = view[os.write(self._fd, view) :]
                self._writing = False
        except BrokenPipeError:
            pass  # the child is gone: its reader says why
        except BaseException as exc:  # handed to the reading thread (Aborted too)
            if not self._stop.is_set():
                self.error = exc
        finally:
            self._writing = False
            with contextlib.suppress(OSError):
                os.close(self._fd)  # the child reads the end of its input
            self._finished.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(_JOIN_SECONDS)


class BoxedStreamReader(BoxedLibarchiveReader):
    """``LibarchiveReader.from_stream`` in a child: ``stream`` (``size`` bytes, which
    sets the CPU budget) pumped into it. Raises ``OSError`` when no child can be forked
    (the caller reads in-process), and what the stream raises before the archive opens."""

    def __init__(
        self, stream: io.BufferedIOBase, name: str, size: int, options: OpenOptions
    ) -> None:
        child, feed = fork_fed(fed=True)
        assert feed is not None
        self._pump = _Pump(stream, feed)
        memory = options.limits.decoder_memory
        request = Request(Path(name), "", options, cpu_budget(size), memory, stream=True)
        self._start(child, None, name, request)

    def close(self) -> None:
        super().close()  # the child ended first: a pump blocked on its pipe lets go
        self._pump.stop()

    def _input_waits(self) -> bool:
        return self._pump.on_the_network

    def _recv(self) -> tuple[bytes, bytes]:
        """The child's next frame; where the stream failed, the stream's error instead
        of what the child made of its input's end (a truncated archive, or none)."""
        try:
            kind, payload = super()._recv()
        except BaseException:
            self._raise_the_streams()
            raise
        if kind in (ERROR, DONE):
            self._raise_the_streams()
        return kind, payload

    def _raise_the_streams(self) -> None:
        error = self._pump.error
        if error is None:
            return
        self._ended = False  # the child is ended, never kept
        if isinstance(error, FerrymanError):
            self._failure = error  # and said again if the reader is asked again
        self.close()
        raise error
