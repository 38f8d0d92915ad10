"""``python -m tests.support.ending_child <how>``: a module that ends in the way named, for
tests/cli/test_forked.py to compare a forked module's end with a started one's: its
output (one line left unflushed in stdout's buffer), a non-daemon thread that prints
after the module's end, an ``atexit`` function, and its exit status."""

from __future__ import annotations

import atexit
import sys
import threading

main_done = threading.Event()


def late() -> None:
    main_done.wait()
    print("the thread, joined after the module's end", flush=True)


atexit.register(lambda: print("atexit, after the thread", file=sys.stderr))
threading.Thread(target=late).start()  # not a daemon: the end waits for it
sys.stdout.write("unflushed, without a newline")
how = sys.argv[1]
try:
    if how == "raise":
        raise ValueError("a bug, uncaught")
    if how == "exit-text":
        sys.exit("exit with a message")
    if how == "exit-3":
        sys.exit(3)
    if how == "interrupt":
        raise KeyboardInterrupt  # uncaught: the interpreter ends by SIGINT
finally:
    main_done.set()
