"""C2SP tlog-checkpoint: the signed tree head of the journal.

The body is ``<origin>\\n<size>\\n<base64 root>\\n`` plus optional non-empty
extension lines, signed as a note by the platform (Ed25519, type 0x01) and
optionally cosigned by witnesses (cosignature/v1, type 0x04).  Parsing is
strict: decimal size without leading zeros, a 32-byte root, a non-empty origin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tierflow.ledger.canonical import b64d, b64e
from tierflow.ledger.cosignature import CosignatureVerifier
from tierflow.ledger.merkle import HASH_SIZE
from tierflow.ledger.note import NoteError, NoteSigner, NoteVerifier, open_note, sign_note

__all__ = [
    "Checkpoint",
    "Cosignature",
    "SignedCheckpoint",
    "open_checkpoint",
    "parse_checkpoint_body",
    "sign_checkpoint",
]

_SIZE = re.compile(r"0|[1-9][0-9]*")
_MAX_SIZE = 2**63 - 1


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise NoteError("checkpoint origin must be a non-empty single line")
        if not 0 <= self.size <= _MAX_SIZE:
            raise NoteError(f"checkpoint size {self.size} out of range")
        if len(self.root) != HASH_SIZE:
            raise NoteError(f"checkpoint root has {len(self.root)} bytes, expected {HASH_SIZE}")
        for line in self.extensions:
            if not line or "\n" in line:
                raise NoteError("checkpoint extension lines must be non-empty single lines")

    def body(self) -> str:
        lines = [self.origin, str(self.size), b64e(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint_body(text: str) -> Checkpoint:
    if not text.endswith("\n"):
        raise NoteError("checkpoint body does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint body has fewer than three lines")
    origin, size_line, root_line, *extensions = lines
    if not _SIZE.fullmatch(size_line):
        raise NoteError(f"checkpoint size {size_line!r} is not a decimal without leading zeros")
    try:
        root = b64d(root_line)
    except ValueError as exc:
        raise NoteError(f"checkpoint root: {exc}") from None
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    return sign_note(checkpoint.body(), signer)


@dataclass(frozen=True)
class Cosignature:
    """A cosignature line found on a checkpoint; ``status`` is verified, invalid or unknown key."""

    name: str
    key_id: bytes
    verified: bool
    known: bool
    timestamp: int | None

    @property
    def status(self) -> str:
        if not self.known:
            return "unknown key"
        return "verified" if self.verified else "invalid"


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note_text: str
    cosignatures: list[Cosignature] = field(default_factory=list)

    def verified_cosigners(self) -> list[str]:
        return [c.name for c in self.cosignatures if c.verified]


def open_checkpoint(
    note: str, platform_verifier: NoteVerifier, witness_verifiers: Sequence[CosignatureVerifier] = ()
) -> SignedCheckpoint:
    """Verify the platform signature and report every other signature line."""
    opened = open_note(note, [platform_verifier], known_cosigners=witness_verifiers)
    checkpoint = parse_checkpoint_body(opened.text)
    cosignatures: list[Cosignature] = []
    for sig in opened.signatures:
        if sig.name == platform_verifier.name and sig.key_id == platform_verifier.key_id:
            continue
        timestamp = None
        if sig.verified and len(sig.signature) == 72:
            timestamp = int.from_bytes(sig.signature[:8], "big")
        cosignatures.append(Cosignature(sig.name, sig.key_id, sig.verified, sig.known, timestamp))
    return SignedCheckpoint(checkpoint, opened.text, cosignatures)
