"""One wall-clock deadline per exchange, and the one watchdog thread that enforces them all."""

from __future__ import annotations

import socket
import threading
import time
from http.client import HTTPConnection


class Deadline:
    """A wall-clock limit on one exchange: when it passes, the sockets it uses are shut down."""

    def __init__(self, seconds: float):
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._watched: list[tuple[HTTPConnection, socket.socket | None]] = []  # with the socket each had
        self._state = "running"

    def start(self) -> None:
        """Put this deadline under the process's watchdog."""
        _WATCHDOG.add(self)

    def finish(self) -> bool:
        """End the watch; True if the deadline passed before the exchange ended."""
        _WATCHDOG.remove(self)
        with self._lock:
            expired, self._state = self._state == "expired", "finished"
            self._watched.clear()
        return expired

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once passed)."""
        return self._ends - time.monotonic()

    def watch(self, connection: HTTPConnection) -> None:
        """Put a connection and its socket under the watchdog; TimeoutError if already expired.

        The socket is kept too: http.client drops `connection.sock` when the answer says
        `Connection: close`, while the response goes on reading from it. The connection is marked as this
        deadline's: pooled connections pass between threads, and an expiry shuts only what is still its own.
        """
        with self._lock:
            if self._state == "expired":
                raise TimeoutError("deadline exceeded")
            with _OWNERS:
                connection.alpana_deadline = self  # type: ignore[attr-defined]
            if not any(known is connection and sock is connection.sock for known, sock in self._watched):
                self._watched.append((connection, connection.sock))

    @property
    def ends(self) -> float:
        """The monotonic time at which the deadline passes."""
        return self._ends

    def expire(self) -> None:
        """Watchdog callback: mark the deadline passed and shut down every watched socket."""
        with self._lock:
            if self._state != "running":
                return
            self._state = "expired"
            with _OWNERS:  # a connection another send has taken from the pool since is not shut
                for connection, sock in self._watched:
                    if getattr(connection, "alpana_deadline", None) is self:
                        _shutdown(sock)
                        _shutdown(connection.sock)


_OWNERS = threading.Lock()  # guards which deadline a connection belongs to


class _Watchdog:
    """One thread for all deadlines of the process. It looks at the exchanges running now (at most
    `concurrency`) every TICK seconds, and sleeps while there are none. (A threading.Timer per send
    started and cancelled a thread for every request; a heap kept every finished deadline until
    its time came.)"""

    TICK = 0.05

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running: set[Deadline] = set()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        """Watch a deadline until it is removed or passes."""
        with self._cond:
            self._running.add(deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alpana-hooks-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()

    def remove(self, deadline: Deadline) -> None:
        """Stop watching a deadline (its exchange ended)."""
        with self._cond:
            self._running.discard(deadline)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._running:
                    self._cond.wait()
                now = time.monotonic()
                passed = [d for d in self._running if d.ends <= now]
                self._running.difference_update(passed)
            for deadline in passed:
                deadline.expire()
            time.sleep(self.TICK)


_WATCHDOG = _Watchdog()


def _shutdown(sock: socket.socket | None) -> None:
    """Shut a socket down so a blocked read in another thread returns at once."""
    if sock is None:
        return
    try:
        # The plain-socket method: on a TLS socket it leaves the TLS state for its owner.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError):
        pass
