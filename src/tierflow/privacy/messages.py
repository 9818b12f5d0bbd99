"""Authenticated, versioned, sequenced and size-limited protocol messages.

Design: every protocol message is an ``Envelope`` — ``{version, job_id, protocol, sender, recipient, seq, kind,
body, signature}`` — serialised as JSON with ``body`` and ``signature`` in base64. The signature is Ed25519 (PyNaCl)
over the canonical bytes of every other field (JSON, sorted keys, no whitespace, UTF-8), recomputed from the parsed
fields, so the wire form itself never needs to be canonical. ``Outbox`` numbers a party's messages from 0;
``Mailbox`` admits a peer's message only if it fits the size limit, parses strictly, belongs to this job, protocol
and version, is addressed to us, carries a valid signature from the claimed sender, and has exactly the next
sequence number. Anything else raises ``ProtocolAbort``: the job must stop; nothing is retried or skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

WIRE_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Default limit for one serialised message; protocols pass a tighter limit computed from their parameters."""

_FIELDS = {"version", "job_id", "protocol", "sender", "recipient", "seq", "kind", "body", "signature"}


class ProtocolAbort(Exception):
    """A message was oversized, malformed, misdirected, tampered, replayed or out of order: stop the job."""


@dataclass(frozen=True)
class Envelope:
    """One signed protocol message."""

    version: int
    job_id: str
    protocol: str
    sender: str
    recipient: str
    seq: int
    kind: str
    body: bytes
    signature: bytes

    def signed_fields(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "job_id": self.job_id,
            "protocol": self.protocol,
            "sender": self.sender,
            "recipient": self.recipient,
            "seq": self.seq,
            "kind": self.kind,
            "body": base64.b64encode(self.body).decode("ascii"),
        }

    def signing_bytes(self) -> bytes:
        """The canonical bytes the signature covers: every field but the signature."""
        return canonical_json(self.signed_fields())

    def to_wire(self) -> bytes:
        fields = self.signed_fields()
        fields["signature"] = base64.b64encode(self.signature).decode("ascii")
        return canonical_json(fields)


def canonical_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _unsigned(job_id: str, protocol: str, sender: str, recipient: str, seq: int, kind: str, body: bytes) -> Envelope:
    return Envelope(WIRE_VERSION, job_id, protocol, sender, recipient, seq, kind, body, b"")


def seal(
    key: SigningKey, *, job_id: str, protocol: str, sender: str, recipient: str, seq: int, kind: str, body: bytes
) -> Envelope:
    """A signed envelope."""
    draft = _unsigned(job_id, protocol, sender, recipient, seq, kind, body)
    signature = key.sign(draft.signing_bytes()).signature
    return Envelope(WIRE_VERSION, job_id, protocol, sender, recipient, seq, kind, body, signature)


def parse(data: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Envelope:
    """Strictly parse a wire message (no signature check); raises ``ProtocolAbort``."""
    if len(data) > max_bytes:
        raise ProtocolAbort(f"message of {len(data)} bytes exceeds the limit of {max_bytes}")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolAbort("malformed message") from exc
    if not isinstance(raw, dict) or set(raw) != _FIELDS:
        raise ProtocolAbort("malformed message: unexpected fields")
    for name in ("job_id", "protocol", "sender", "recipient", "kind", "body", "signature"):
        if not isinstance(raw[name], str):
            raise ProtocolAbort(f"malformed message: {name}")
    for name in ("version", "seq"):
        if type(raw[name]) is not int or raw[name] < 0:
            raise ProtocolAbort(f"malformed message: {name}")
    try:
        body = base64.b64decode(raw["body"], validate=True)
        signature = base64.b64decode(raw["signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolAbort("malformed message: base64") from exc
    return Envelope(
        raw["version"], raw["job_id"], raw["protocol"], raw["sender"], raw["recipient"], raw["seq"], raw["kind"],
        body, signature,
    )  # fmt: skip


class Outbox:
    """Seals one party's messages to its peers, numbering them per sender from 0."""

    def __init__(self, *, job_id: str, protocol: str, party: str, key: SigningKey) -> None:
        self.job_id = job_id
        self.protocol = protocol
        self.party = party
        self._key = key
        self._seq = 0

    def seal(self, recipient: str, kind: str, body: bytes) -> bytes:
        envelope = seal(
            self._key, job_id=self.job_id, protocol=self.protocol, sender=self.party, recipient=recipient,
            seq=self._seq, kind=kind, body=body,
        )  # fmt: skip
        self._seq += 1
        return envelope.to_wire()


class Mailbox:
    """Admits peers' messages for one party in one job, or raises ``ProtocolAbort``."""

    def __init__(
        self,
        *,
        job_id: str,
        protocol: str,
        party: str,
        peers: Mapping[str, VerifyKey],
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        if party in peers:
            raise ValueError("a party is not its own peer")
        self.job_id = job_id
        self.protocol = protocol
        self.party = party
        self.max_message_bytes = max_message_bytes
        self._peers = dict(peers)
        self._expected = dict.fromkeys(peers, 0)

    def expected_seq(self, peer: str) -> int:
        return self._expected[peer]

    def accept(self, data: bytes) -> Envelope:
        envelope = parse(data, self.max_message_bytes)
        if envelope.version != WIRE_VERSION:
            raise ProtocolAbort(f"unsupported message version {envelope.version}")
        if envelope.job_id != self.job_id:
            raise ProtocolAbort("message belongs to another job")
        if envelope.protocol != self.protocol:
            raise ProtocolAbort("message belongs to another protocol")
        if envelope.recipient != self.party:
            raise ProtocolAbort("message is addressed to another party")
        key = self._peers.get(envelope.sender)
        if key is None:
            raise ProtocolAbort("message from an unknown sender")
        try:
            key.verify(envelope.signing_bytes(), envelope.signature)
        except (BadSignatureError, ValueError) as exc:
            raise ProtocolAbort("bad signature: message tampered or forged") from exc
        expected = self._expected[envelope.sender]
        if envelope.seq < expected:
            raise ProtocolAbort(f"replayed message (seq {envelope.seq}, expected {expected})")
        if envelope.seq > expected:
            raise ProtocolAbort(f"out-of-order message (seq {envelope.seq}, expected {expected})")
        self._expected[envelope.sender] = expected + 1
        return envelope
