"""C2SP tlog-cosignature/v1 (Ed25519, signature type 0x04).

A witness cosignature is a signed-note signature line whose value is
base64(key id(4) || timestamp(uint64, big-endian) || Ed25519 signature(64)).
The signed message is ``cosignature/v1\\ntime <timestamp>\\n`` followed by the
whole checkpoint body.  ``CosignatureVerifier`` implements the note
``Verifier`` protocol so cosignature lines are checked by the generic note
parser; the helpers here produce and check a single line.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from tierflow.ledger.note import (
    NoteError,
    format_signature_line,
    key_id,
    parse_signature_line,
    parse_vkey_parts,
    verifier_key,
)

if TYPE_CHECKING:
    from tierflow.ledger.checkpoint import Checkpoint

__all__ = [
    "COSIGNATURE_TYPE",
    "CosignatureVerifier",
    "cosign",
    "cosigned_message",
    "cosigner_verifier_key",
    "parse_cosigner_verifier_key",
    "verify_cosignature",
]

COSIGNATURE_TYPE = 0x04
_MAX_TIMESTAMP = 2**63 - 1


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} out of range")


@dataclass(frozen=True)
class CosignatureVerifier:
    """Verifies cosignature/v1 lines of one witness key (a note ``Verifier``)."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if len(self.public_key) != 32:
            raise NoteError(f"Ed25519 public key has {len(self.public_key)} bytes, expected 32")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, COSIGNATURE_TYPE, self.public_key)

    def timestamp(self, text: bytes, signature: bytes) -> int:
        """Return the cosignature timestamp, raising ``NoteError`` if it does not verify."""
        if len(signature) != 72:
            raise NoteError(f"cosignature by {self.name} has {len(signature)} bytes, expected 72")
        (timestamp,) = struct.unpack(">Q", signature[:8])
        _check_timestamp(timestamp)
        try:
            VerifyKey(self.public_key).verify(cosigned_message(text, timestamp), signature[8:])
        except BadSignatureError:
            raise NoteError(f"cosignature by {self.name} does not verify") from None
        return int(timestamp)

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self.timestamp(text, signature)
        except NoteError:
            return False
        return True


def cosign(checkpoint: Checkpoint, name: str, signing_key: SigningKey, timestamp: int) -> str:
    """Return the cosignature line (``— name base64...\\n``) for ``checkpoint``."""
    _check_timestamp(timestamp)
    message = cosigned_message(checkpoint.body().encode(), timestamp)
    signature: bytes = signing_key.sign(message).signature
    kid = key_id(name, COSIGNATURE_TYPE, bytes(signing_key.verify_key))
    return format_signature_line(name, kid, struct.pack(">Q", timestamp) + signature)


def cosigner_verifier_key(name: str, public_key: bytes) -> str:
    return verifier_key(name, public_key, COSIGNATURE_TYPE)


def parse_cosigner_verifier_key(vkey: str) -> CosignatureVerifier:
    name, key_type, public_key = parse_vkey_parts(vkey)
    if key_type != COSIGNATURE_TYPE:
        raise NoteError(f"verifier key type 0x{key_type:02x} is not a cosignature/v1 key (0x04)")
    return CosignatureVerifier(name, public_key)


def verify_cosignature(line: str, checkpoint: Checkpoint, name: str, public_key: bytes) -> int:
    """Check one cosignature line against ``checkpoint``; return its timestamp."""
    line_name, kid, signature = parse_signature_line(line.rstrip("\n"))
    verifier = CosignatureVerifier(name, public_key)
    if line_name != name or kid != verifier.key_id:
        raise NoteError(f"cosignature line is not from {name} ({verifier.key_id.hex()})")
    return verifier.timestamp(checkpoint.body().encode(), signature)
