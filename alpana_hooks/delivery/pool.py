"""The idle keep-alive connections a Sender keeps, per destination, shared by its threads."""

from __future__ import annotations

import select
import socket
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alpana_hooks.delivery.guard import GuardedConnection

Destination = tuple[str, str, int]  # scheme, host, port


class Pool:
    """Idle connections by destination: at most `keep` each (the newest is taken first), for the `destinations`
    used most recently (the connections of the one used least recently are closed beyond that). A connection
    is taken by one send at a time; one the receiver has closed or written to since is closed, not handed
    out."""

    def __init__(self, keep: int, destinations: int):
        self._keep, self._destinations = keep, destinations
        self._lock = threading.Lock()
        self._idle: OrderedDict[Destination, list[GuardedConnection]] = OrderedDict()

    def take(self, destination: Destination) -> GuardedConnection | None:
        """An idle connection to the destination that is still open, if there is one."""
        stale = []
        with self._lock:
            idle = self._idle.get(destination)
            if idle is not None:
                self._idle.move_to_end(destination)
            while idle:
                connection = idle.pop()
                if not _dropped(connection.sock):
                    break
                stale.append(connection)
            else:
                connection = None
        for dropped in stale:
            dropped.close()
        return connection

    def give(self, destination: Destination, connection: GuardedConnection) -> None:
        """Keep a connection whose answer was read to its end for the next send to the destination."""
        closing = []
        with self._lock:
            idle = self._idle.setdefault(destination, [])
            self._idle.move_to_end(destination)
            if len(idle) < self._keep:
                idle.append(connection)
            else:
                closing.append(connection)
            if len(self._idle) > self._destinations:
                closing += self._idle.popitem(last=False)[1]
        for extra in closing:
            extra.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle = [connection for connections in self._idle.values() for connection in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()


def _dropped(sock: socket.socket | None) -> bool:
    """True if an idle connection's socket is gone, closed by the receiver or has unasked-for data waiting."""
    if sock is None:
        return True
    try:
        if not hasattr(select, "poll"):  # Windows
            return bool(select.select([sock], [], [], 0)[0])
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # closed under us
        return True
