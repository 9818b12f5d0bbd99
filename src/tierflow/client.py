"""Client-side signing: a party's key and the commands it signs.

Used by the CLI demo, the benchmarks and the tests; an integrator's client does the same in its own
language: build ``{"kind", "actor", "nonce", "issued_at", "body"}``, sign ``b"tierflow/command/v1\\n" +``
its RFC 8785 bytes with Ed25519, and send both.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nacl.signing import SigningKey

from tierflow.ledger.envelope import sign_command
from tierflow.services.commands import SignedCommand
from tierflow.services.ids import party_id_for


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PartyKey:
    signing_key: SigningKey

    @classmethod
    def generate(cls) -> PartyKey:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> PartyKey:
        return cls(SigningKey(seed))

    @property
    def public_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(self.public_key).decode()

    @property
    def party_id(self) -> str:
        return party_id_for(self.public_key)

    @property
    def seed_b64(self) -> str:
        return base64.b64encode(bytes(self.signing_key)).decode()

    def command(
        self,
        kind: str,
        body: Mapping[str, Any],
        *,
        actor: str | None = None,
        now: datetime | Callable[[], datetime] | None = None,
    ) -> SignedCommand:
        moment = now() if callable(now) else (now or datetime.now(UTC))
        command = {
            "kind": kind,
            "actor": actor or self.party_id,
            "nonce": base64.urlsafe_b64encode(os.urandom(12)).decode(),
            "issued_at": _rfc3339(moment),
            "body": dict(body),
        }
        return SignedCommand(command, sign_command(command, self.signing_key))

    def registration(
        self,
        *,
        name: str,
        role: str,
        operator_id: str,
        now: datetime | Callable[[], datetime] | None = None,
        policy: Mapping[str, Any] | None = None,
    ) -> SignedCommand:
        """A ``party.register`` command: signed by this (new) key, acted by the operator who registers it."""
        body: dict[str, Any] = {"name": name, "role": role, "public_key": self.public_key_b64}
        if policy is not None:
            body["policy"] = dict(policy)
        return self.command("party.register", body, actor=operator_id, now=now)
