"""One transport interface for the privacy protocols, and an in-memory network for tests.

Design: a transport moves opaque, already-sealed message bytes between named parties; authentication, ordering
and size checks live in ``messages.Mailbox``, so a transport needs no trust. ``InMemoryNetwork`` keeps one FIFO
queue per (sender, recipient) pair and a ``tap`` that records every message handed to it, in order, before any
interference. Tests interfere through ``interceptor`` (rewrite, drop or duplicate a message in flight) and
``inject`` (deliver arbitrary bytes as if from a sender).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Interceptor = Callable[[str, str, bytes], list[bytes]]
"""(sender, recipient, data) -> what is actually delivered (empty: dropped)."""


class Transport(Protocol):
    """What a party needs to exchange messages."""

    def send(self, recipient: str, message: bytes) -> None: ...

    def receive(self, sender: str) -> bytes | None:
        """The next message from ``sender``, or ``None`` if none is waiting."""
        ...


@dataclass(frozen=True)
class Tapped:
    sender: str
    recipient: str
    data: bytes


class InMemoryNetwork:
    """Queues between named parties, with a tap and hooks for interference."""

    def __init__(self, interceptor: Interceptor | None = None) -> None:
        self.tap: list[Tapped] = []
        self.interceptor = interceptor
        self._queues: dict[tuple[str, str], deque[bytes]] = {}

    def endpoint(self, party: str) -> InMemoryTransport:
        return InMemoryTransport(self, party)

    def _queue(self, sender: str, recipient: str) -> deque[bytes]:
        return self._queues.setdefault((sender, recipient), deque())

    def deliver(self, sender: str, recipient: str, data: bytes) -> None:
        self.tap.append(Tapped(sender, recipient, data))
        delivered = [data] if self.interceptor is None else self.interceptor(sender, recipient, data)
        self._queue(sender, recipient).extend(delivered)

    def inject(self, sender: str, recipient: str, data: bytes) -> None:
        """Deliver ``data`` as if ``sender`` had sent it (not recorded on the tap)."""
        self._queue(sender, recipient).append(data)

    def pop(self, sender: str, recipient: str) -> bytes | None:
        queue = self._queue(sender, recipient)
        return queue.popleft() if queue else None

    def pending(self, recipient: str) -> list[str]:
        """Senders with messages waiting for ``recipient``."""
        return [s for (s, r), q in self._queues.items() if r == recipient and q]


class InMemoryTransport:
    """One party's view of an ``InMemoryNetwork``."""

    def __init__(self, network: InMemoryNetwork, party: str) -> None:
        self.network = network
        self.party = party

    def send(self, recipient: str, message: bytes) -> None:
        self.network.deliver(self.party, recipient, message)

    def receive(self, sender: str) -> bytes | None:
        return self.network.pop(sender, self.party)
