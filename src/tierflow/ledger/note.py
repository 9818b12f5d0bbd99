"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures.

A note is a UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> base64(key id || signature)``.  A key is identified by the pair
(name, 4-byte key id) where key id = SHA-256(name || 0x0A || type || public key)[:4].

Verification is pluggable: anything that satisfies the ``Verifier`` protocol
(name, key id, ``verify(text, signature)``) can check a line, which is how
witness cosignatures (type 0x04, see ``cosignature``) reuse this parser.
``open_note`` separates *required* verifiers (at least one must verify, and a
known-but-invalid signature rejects the note) from *known cosigners* (checked
and reported, never fatal).  Lines from unknown keys are kept but ignored, as
the specification requires.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from tierflow.ledger.canonical import b64d, b64e

__all__ = [
    "ED25519_TYPE",
    "MAX_SIGNATURES",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "Verifier",
    "add_signatures",
    "format_signature_line",
    "key_id",
    "open_note",
    "parse_signature_line",
    "parse_verifier_key",
    "parse_vkey_parts",
    "sign_note",
    "verifier_key",
]

ED25519_TYPE = 0x01
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
EM_DASH = "\u2014"


class NoteError(ValueError):
    """A note is malformed or its required signature is missing or invalid."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or any(ord(c) < 0x20 for c in name):
        raise NoteError(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")


def _check_text(text: str, what: str) -> None:
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError(f"{what} contains a control character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None


class Verifier(Protocol):
    """Checks one kind of note signature for one key."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """``signature`` excludes the 4-byte key id."""
        ...


@dataclass(frozen=True)
class NoteVerifier:
    """Ed25519 (type 0x01) note verifier."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != 32:
            raise NoteError(f"Ed25519 public key has {len(self.public_key)} bytes, expected 32")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, ED25519_TYPE, self.public_key)

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            VerifyKey(self.public_key).verify(text, signature)
        except BadSignatureError:
            return False
        return True


class NoteSigner:
    """Ed25519 (type 0x01) note signer."""

    def __init__(self, name: str, signing_key: SigningKey) -> None:
        _check_name(name)
        self.name = name
        self._key = signing_key
        self.public_key: bytes = bytes(signing_key.verify_key)
        self.key_id = key_id(name, ED25519_TYPE, self.public_key)

    def sign(self, text: bytes) -> bytes:
        signature: bytes = self._key.sign(text).signature
        return signature

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.public_key)


def verifier_key(name: str, public_key: bytes, key_type: int = ED25519_TYPE) -> str:
    """``<name>+<hex key id>+<base64(type || public key)>``."""
    _check_name(name)
    return f"{name}+{key_id(name, key_type, public_key).hex()}+{b64e(bytes([key_type]) + public_key)}"


def parse_vkey_parts(vkey: str) -> tuple[str, int, bytes]:
    """Split and check a verifier key; return ``(name, type, public key)``."""
    parts = vkey.strip().split("+", 2)  # standard base64 may itself contain '+'
    if len(parts) != 3:
        raise NoteError("verifier key must have the form name+keyid+base64key")
    name, hex_id, encoded = parts
    _check_name(name)
    if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
        raise NoteError("verifier key id must be 8 lowercase hex digits")
    try:
        material = b64d(encoded)
    except ValueError as exc:
        raise NoteError(f"verifier key: {exc}") from None
    if len(material) < 2:
        raise NoteError("verifier key material is empty")
    key_type, public_key = material[0], material[1:]
    if key_id(name, key_type, public_key).hex() != hex_id:
        raise NoteError("verifier key id does not match the key")
    return name, key_type, public_key


def parse_verifier_key(vkey: str) -> NoteVerifier:
    """Parse an Ed25519 (type 0x01) verifier key."""
    name, key_type, public_key = parse_vkey_parts(vkey)
    if key_type != ED25519_TYPE:
        raise NoteError(f"verifier key type 0x{key_type:02x} is not Ed25519 (0x01)")
    return NoteVerifier(name, public_key)


# --------------------------------------------------------------------------- format


def format_signature_line(name: str, key: bytes, signature: bytes) -> str:
    _check_name(name)
    return f"{EM_DASH} {name} {b64e(key + signature)}\n"


def parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    """``— name base64`` (without the newline) -> ``(name, key id, signature)``."""
    prefix = EM_DASH + " "
    if not line.startswith(prefix):
        raise NoteError(f"signature line does not start with an em dash and a space: {line[:40]!r}")
    parts = line[len(prefix) :].split(" ")
    if len(parts) != 2:
        raise NoteError("signature line must be '— <name> <base64>'")
    name, encoded = parts
    _check_name(name)
    try:
        raw = b64d(encoded)
    except ValueError as exc:
        raise NoteError(f"signature by {name}: {exc}") from None
    if len(raw) < 5:
        raise NoteError(f"signature by {name} is too short")
    return name, raw[:4], raw[4:]


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes
    verified: bool
    known: bool
    line: str


@dataclass(frozen=True)
class OpenedNote:
    text: str
    signatures: list[NoteSignature]

    def by_name(self, name: str) -> list[NoteSignature]:
        return [s for s in self.signatures if s.name == name]


def _split_note(note: str) -> tuple[str, list[str]]:
    if len(note.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
        raise NoteError("note is too large")
    _check_text(note, "note")
    if not note.endswith("\n"):
        raise NoteError("note does not end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no signature block (missing blank line)")
    text, block = note[: split + 1], note[split + 2 :]
    lines = block[:-1].split("\n") if block else []
    if not lines:
        raise NoteError("note has no signatures")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return text, lines


def sign_note(text: str, signer: NoteSigner) -> str:
    """Return ``text`` signed by ``signer`` as a signed note."""
    _check_text(text, "note text")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    signature = signer.sign(text.encode())
    return text + "\n" + format_signature_line(signer.name, signer.key_id, signature)


def add_signatures(note: str, lines: Sequence[str]) -> str:
    """Append signature lines (each ``— name base64`` with or without the newline)."""
    text, existing = _split_note(note)
    added = [line.rstrip("\n") for line in lines]
    for line in added:
        parse_signature_line(line)
    all_lines = existing + [line for line in added if line not in existing]
    if len(all_lines) > MAX_SIGNATURES:
        raise NoteError(f"note would have more than {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(line + "\n" for line in all_lines)


def _find(verifiers: Sequence[Verifier], name: str, kid: bytes) -> Verifier | None:
    for verifier in verifiers:
        if verifier.name == name and verifier.key_id == kid:
            return verifier
    return None


def open_note(note: str, verifiers: Sequence[Verifier], *, known_cosigners: Sequence[Verifier] = ()) -> OpenedNote:
    """Parse ``note`` and check its signatures.

    At least one signature from ``verifiers`` must verify and none of theirs may
    fail; signatures from ``known_cosigners`` are verified and reported; other
    lines are kept with ``known=False``.
    """
    if not verifiers:
        raise NoteError("no verifier given")
    text, lines = _split_note(note)
    payload = text.encode()
    signatures: list[NoteSignature] = []
    required_ok = False
    for line in lines:
        name, kid, signature = parse_signature_line(line)
        required = _find(verifiers, name, kid)
        verifier = required or _find(known_cosigners, name, kid)
        verified = verifier is not None and verifier.verify(payload, signature)
        if required is not None and not verified:
            raise NoteError(f"signature by {name} ({kid.hex()}) does not verify")
        required_ok = required_ok or (required is not None)
        signatures.append(NoteSignature(name, kid, signature, verified, verifier is not None, line))
    if not required_ok:
        names = ", ".join(sorted({v.name for v in verifiers}))
        raise NoteError(f"note has no signature from {names}")
    return OpenedNote(text, signatures)
