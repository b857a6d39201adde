"""Ctrl-C and SIGTERM held back while the engine starts a thread.

Python raises KeyboardInterrupt (and, through the console script's handler, SIGTERM) at any bytecode of the main
thread. Inside Thread.start that can break the lock of the starting thread (RuntimeError: release unlocked lock).
Held, the signal is delivered just after the thread started. Threads started while it is held inherit the mask, so
the engine's own threads never take the signal away from the main thread."""

import signal
from collections.abc import Iterator
from contextlib import contextmanager

HELD = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (in this thread, and in threads it starts)."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
