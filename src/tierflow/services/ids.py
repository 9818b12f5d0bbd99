"""Identifiers.

Event ids are ULIDs (time-ordered, random tail). Every other id an operation creates is derived from its
event id and a counter, so that replaying the journal re-creates exactly the same ids. Party ids are
derived from the party's first public key, so a party knows its id before it is registered.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "evt_" + "".join(reversed(chars))


def party_id_for(public_key: bytes) -> str:
    return "pty_" + hashlib.sha256(public_key).hexdigest()[:20]


class IdFactory:
    """Ids for the objects one event creates: ``<prefix>_<event suffix>`` and ``…_<n>`` for holdings."""

    def __init__(self, event_id: str) -> None:
        self._suffix = event_id.removeprefix("evt_")
        self._holdings = 0

    def one(self, prefix: str) -> str:
        return f"{prefix}_{self._suffix}"

    def holding(self) -> str:
        self._holdings += 1
        return f"hld_{self._suffix}_{self._holdings}"

    @property
    def holding_ids(self) -> Callable[[], str]:
        return self.holding
