"""The engine's worker threads: started as work arrives (up to a size) and kept for the engine's life.

One queue in, one queue out, no future per item: ThreadPoolExecutor's futures, callbacks and per-submit thread
checks were a sixth of the CPU of a send to a fast receiver. Workers count the items they are running, so
stop() can let no queued item begin and wait for those that did, whatever the main thread was doing when it was
interrupted (an item put just before a Ctrl-C still runs, and is counted)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from alpana_hooks import signals

_Item = TypeVar("_Item")
_STOP = object()


class Workers(Generic[_Item]):
    """Up to `size` threads that run `work(item)` for each item put, in order, and put (item, its result or the
    exception it raised) on `done`."""

    def __init__(self, size: int, work: Callable[[_Item], object], name: str):
        self._size, self._work, self._name = size, work, name
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self.done: queue.SimpleQueue[tuple[_Item, object]] = queue.SimpleQueue()
        self.outstanding = 0  # items put and not yet taken from `done` (kept by the caller's thread)
        self._threads: list[threading.Thread] = []
        self._changed = threading.Condition()  # guards _running and the start of an item against _stopped
        self._running = 0
        self._stopped = False

    def put(self, item: _Item) -> None:
        """Queue an item; start a thread if every one started is busy."""
        self._todo.put(item)
        self.outstanding += 1
        if len(self._threads) < min(self._size, self.outstanding):
            thread = threading.Thread(target=self._serve, name=f"{self._name}-{len(self._threads)}", daemon=True)
            with signals.held():  # Thread.start is not interrupt-safe; the thread inherits the mask
                thread.start()
                self._threads.append(thread)  # known to stop(), whatever interrupt comes next

    def take(self, timeout: float) -> list[tuple[_Item, object]]:
        """The finished items with their results: waits up to timeout for one, then takes every other one done."""
        try:
            finished = [self.done.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self.done.empty():
            finished.append(self.done.get_nowait())
        self.outstanding -= len(finished)
        return finished

    def stop(self) -> None:
        """Let no queued item begin; wait until the running ones have finished. The threads then end."""
        with self._changed:
            self._stopped = True
            self._changed.wait_for(lambda: self._running == 0)
        for _ in self._threads:
            self._todo.put(_STOP)

    def join(self) -> None:
        """Stop, and wait for the threads to end."""
        self.stop()
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        while (item := self._todo.get()) is not _STOP:
            with self._changed:
                if self._stopped:
                    continue  # never begun: the caller hands its claim back
                self._running += 1
            try:
                result = self._work(item)
            except BaseException as exc:  # noqa: BLE001 - the caller's thread raises it
                result = exc
            finally:
                with self._changed:
                    self._running -= 1
                    self._changed.notify_all()
            self.done.put((item, result))
