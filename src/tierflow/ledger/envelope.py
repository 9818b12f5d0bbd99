"""Signed commands and journal entries (the Merkle leaves).

A *command* is ``{"kind", "actor", "nonce", "issued_at", "body"}``; the actor
signs ``COMMAND_CONTEXT || canonical_json(command)`` with Ed25519 (the context
prefix keeps command signatures from being valid for any other message).
A *journal entry* wraps the command, its signature and the server's effects as
``canonical_json({"v": 1, "id", "kind", "at", "command", "signature", "effects"})``;
those bytes are the Merkle leaf.  ``parse_leaf`` accepts only canonical bytes.

Party keys live in the journal itself.  ``PartyKeys`` replays entries in order:
``party.register`` is signed by the new key (proof of possession) and adds
``effects.party_id`` (the first one must be the genesis operator registering
itself); ``party.rotate_key`` is signed by the actor's current key and
replaces it with ``body.public_key``; every other entry must verify under the
actor's current key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from tierflow.ledger.canonical import b64d, b64e, canonical_json, canonical_json_parsed, parse_json

__all__ = [
    "COMMAND_CONTEXT",
    "COMMAND_FIELDS",
    "ENTRY_VERSION",
    "KEY_ROTATED",
    "PARTY_REGISTERED",
    "Entry",
    "EnvelopeError",
    "PartyKeys",
    "SignatureError",
    "build_leaf",
    "canonical_command",
    "command_digest",
    "command_signing_bytes",
    "digest_of",
    "format_rfc3339",
    "parse_leaf",
    "parse_rfc3339",
    "sign_command",
    "validate_command",
    "verify_canonical_command",
    "verify_command",
]

COMMAND_CONTEXT = b"tierflow/command/v1\n"
COMMAND_FIELDS = frozenset({"kind", "actor", "nonce", "issued_at", "body"})
ENTRY_FIELDS = frozenset({"v", "id", "kind", "at", "command", "signature", "effects"})
ENTRY_VERSION = 1
PARTY_REGISTERED = "party.register"
KEY_ROTATED = "party.rotate_key"

_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


class EnvelopeError(ValueError):
    """A command or journal entry is malformed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureError(EnvelopeError):
    """A signature is malformed, from the wrong key, or does not verify."""


def format_rfc3339(moment: datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (fraction only when non-zero)."""
    if moment.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 UTC timestamp ending in ``Z``; raises ``EnvelopeError``."""
    if not isinstance(text, str) or not _RFC3339_UTC.fullmatch(text):
        raise EnvelopeError(f"timestamp {text!r} is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.f]Z)")
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise EnvelopeError(f"timestamp {text!r} is not a valid date and time") from None


def _nonempty_str(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise EnvelopeError(f"{what} field {key!r} must be a non-empty string")
    return value


def validate_command(command: Mapping[str, Any]) -> None:
    """Check the command shape; raises ``EnvelopeError``."""
    if not isinstance(command, Mapping):
        raise EnvelopeError("command must be a JSON object")
    keys = set(command)
    if keys != COMMAND_FIELDS:
        missing, extra = sorted(COMMAND_FIELDS - keys), sorted(keys - COMMAND_FIELDS)
        raise EnvelopeError(f"command fields wrong: missing {missing}, unexpected {extra}")
    for key in ("kind", "actor", "nonce"):
        _nonempty_str(command, key, "command")
    parse_rfc3339(command["issued_at"])
    if not isinstance(command["body"], Mapping):
        raise EnvelopeError("command body must be a JSON object")


def command_signing_bytes(command: Mapping[str, Any]) -> bytes:
    validate_command(command)
    try:
        return COMMAND_CONTEXT + canonical_json(command)
    except (TypeError, ValueError) as exc:
        raise EnvelopeError(f"command is not canonical JSON: {exc}") from None


def command_digest(command: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical command (replay protection key)."""
    return hashlib.sha256(canonical_json(command)).hexdigest()


def sign_command(command: Mapping[str, Any], signing_key: SigningKey) -> str:
    signature: bytes = signing_key.sign(command_signing_bytes(command)).signature
    return b64e(signature)


def _verify_signature(message: bytes, signature_b64: str, public_key: bytes) -> None:
    try:
        signature = b64d(signature_b64)
    except ValueError as exc:
        raise SignatureError(f"signature is not valid base64: {exc}") from None
    if len(signature) != 64:
        raise SignatureError(f"signature has {len(signature)} bytes, expected 64")
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise SignatureError("public key must be 32 bytes")
    try:
        VerifyKey(public_key).verify(message, signature)
    except BadSignatureError:
        raise SignatureError("signature does not verify") from None


def verify_command(command: Mapping[str, Any], signature_b64: str, public_key: bytes) -> None:
    """Raise ``SignatureError`` unless ``signature_b64`` is the key's signature of ``command``."""
    try:
        message = command_signing_bytes(command)
    except EnvelopeError as exc:
        raise SignatureError(f"command is malformed: {exc.reason}") from None
    _verify_signature(message, signature_b64, public_key)


# --------------------------------------------------------------------------- journal entries


@dataclass(frozen=True)
class Entry:
    v: int
    id: str
    kind: str
    at: str
    command: dict[str, Any]
    signature: str
    effects: dict[str, Any]
    raw: bytes
    command_bytes: bytes = field(default=b"", repr=False, compare=False)
    """Canonical JSON of ``command`` (filled by ``parse_leaf``)."""

    def signing_bytes(self) -> bytes:
        """The bytes the actor signed: ``COMMAND_CONTEXT || canonical_json(command)``."""
        return COMMAND_CONTEXT + (self.command_bytes or canonical_json(self.command))


def build_leaf(
    *,
    event_id: str,
    kind: str,
    at: str,
    command: Mapping[str, Any],
    signature: str,
    effects: Mapping[str, Any],
    command_bytes: bytes | None = None,
) -> bytes:
    """Canonical bytes of a journal entry (the Merkle leaf data).

    ``command_bytes``, when the caller already has ``canonical_command(command)``, saves encoding the command
    again: RFC 8785 encodes each member's value independently, so the leaf is spliced from its members.
    """
    if command_bytes is None:
        command_bytes = canonical_command(command)
    parse_rfc3339(at)
    if not event_id or not kind:
        raise EnvelopeError("entry id and kind must be non-empty")
    members = {
        "at": canonical_json(at),
        "command": command_bytes,
        "effects": canonical_json(dict(effects)),
        "id": canonical_json(event_id),
        "kind": canonical_json(kind),
        "signature": canonical_json(signature),
        "v": canonical_json(ENTRY_VERSION),
    }
    # Every key is ASCII, so sorting by code point is RFC 8785's order.
    return b"{" + b",".join(b'"' + key.encode() + b'":' + value for key, value in sorted(members.items())) + b"}"


def canonical_command(command: Mapping[str, Any]) -> bytes:
    """The command's RFC 8785 bytes, after checking its shape; raises ``EnvelopeError``."""
    validate_command(command)
    try:
        return canonical_json(command)
    except (TypeError, ValueError) as exc:
        raise EnvelopeError(f"command is not canonical JSON: {exc}") from None


def verify_canonical_command(command_bytes: bytes, signature_b64: str, public_key: bytes) -> None:
    """``verify_command`` for a command already encoded with ``canonical_command``."""
    _verify_signature(COMMAND_CONTEXT + command_bytes, signature_b64, public_key)


def digest_of(command_bytes: bytes) -> str:
    """``command_digest`` for a command already encoded with ``canonical_command``."""
    return hashlib.sha256(command_bytes).hexdigest()


def _canonical_leaf(obj: dict[str, Any]) -> tuple[bytes, bytes]:
    """Canonical bytes of the leaf and of its command, encoding the command only once."""
    command_bytes = canonical_json_parsed(obj["command"])
    members = [
        canonical_json_parsed(key) + b":" + (command_bytes if key == "command" else canonical_json_parsed(obj[key]))
        for key in sorted(obj)  # all keys are ASCII, so code-point order is RFC 8785 order
    ]
    return b"{" + b",".join(members) + b"}", command_bytes


def parse_leaf(raw: bytes) -> Entry:
    """Strictly parse leaf bytes; raises ``EnvelopeError``."""
    try:
        obj = parse_json(raw)
    except ValueError as exc:
        raise EnvelopeError(f"leaf is not JSON without floats: {exc}") from None
    if not isinstance(obj, dict):
        raise EnvelopeError("leaf is not a JSON object")
    if set(obj) != ENTRY_FIELDS:
        raise EnvelopeError(f"leaf fields wrong: {sorted(obj)}")
    if obj["v"] != ENTRY_VERSION or isinstance(obj["v"], bool):
        raise EnvelopeError(f"unsupported leaf version {obj['v']!r}")
    try:
        canonical, command_bytes = _canonical_leaf(obj)
    except ValueError as exc:
        raise EnvelopeError(f"leaf is not canonical JSON: {exc}") from None
    if canonical != raw:
        raise EnvelopeError("leaf bytes are not in canonical form")
    for key in ("id", "kind", "signature"):
        _nonempty_str(obj, key, "leaf")
    parse_rfc3339(obj["at"])
    validate_command(obj["command"])
    if not isinstance(obj["effects"], dict):
        raise EnvelopeError("leaf effects must be a JSON object")
    return Entry(
        obj["v"],
        obj["id"],
        obj["kind"],
        obj["at"],
        obj["command"],
        obj["signature"],
        obj["effects"],
        raw,
        command_bytes,
    )


# --------------------------------------------------------------------------- party keys


def _body_public_key(entry: Entry) -> bytes:
    encoded = entry.command["body"].get("public_key")
    try:
        key = b64d(encoded)
    except ValueError:
        raise SignatureError(f"{entry.kind} body.public_key is not valid base64") from None
    if len(key) != 32:
        raise SignatureError(f"{entry.kind} body.public_key has {len(key)} bytes, expected 32")
    return key


class PartyKeys:
    """Party id -> current Ed25519 public key, built by replaying the journal in order."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    def key_for(self, party_id: str) -> bytes:
        try:
            return self.keys[party_id]
        except KeyError:
            raise SignatureError(f"actor {party_id!r} is not a registered party") from None

    def apply(self, entry: Entry) -> None:
        """Check ``entry``'s signature under the key rules, then record any key change."""
        actor = entry.command["actor"]
        if entry.kind == PARTY_REGISTERED:
            self._register(entry, actor)
        elif entry.kind == KEY_ROTATED:
            new_key = _body_public_key(entry)
            _verify_signature(entry.signing_bytes(), entry.signature, self.key_for(actor))
            self.keys[actor] = new_key
        else:
            _verify_signature(entry.signing_bytes(), entry.signature, self.key_for(actor))

    def _register(self, entry: Entry, actor: str) -> None:
        party_id = entry.effects.get("party_id")
        if not isinstance(party_id, str) or not party_id:
            raise SignatureError("party.register entry lacks effects.party_id")
        if party_id in self.keys:
            raise SignatureError(f"party {party_id!r} is already registered")
        if not self.keys and actor != party_id:
            raise SignatureError("the first party.register entry must be the operator registering itself")
        if self.keys:
            self.key_for(actor)
        new_key = _body_public_key(entry)
        _verify_signature(entry.signing_bytes(), entry.signature, new_key)
        self.keys[party_id] = new_key
