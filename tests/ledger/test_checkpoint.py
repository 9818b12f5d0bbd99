from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from tierflow.ledger.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint_body, sign_checkpoint
from tierflow.ledger.cosignature import (
    cosign,
    cosigned_message,
    cosigner_verifier_key,
    parse_cosigner_verifier_key,
    verify_cosignature,
)
from tierflow.ledger.merkle import leaf_hash
from tierflow.ledger.note import NoteError, NoteSigner, add_signatures

CP = Checkpoint("tierflow.example/log", 20852163, leaf_hash(b"x"))
PLATFORM = NoteSigner("tierflow.example/log", SigningKey.generate())
WITNESS_KEY = SigningKey.generate()
WITNESS = "witness.example/w1"


def test_body_round_trip() -> None:
    cp = Checkpoint("o", 0, leaf_hash(b""), ("ext one",))
    assert parse_checkpoint_body(cp.body()) == cp
    assert CP.body().split("\n")[1] == "20852163"


@pytest.mark.parametrize(
    "body",
    [
        "o\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "o\n1\nAAAA\n",
        "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "o\n1\n",
        "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
    ],
)
def test_strict_parse(body: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint_body(body)


def test_cosignature_attached_and_verified() -> None:
    note = sign_checkpoint(CP, PLATFORM)
    line = cosign(CP, WITNESS, WITNESS_KEY, 1679315147)
    assert verify_cosignature(line, CP, WITNESS, bytes(WITNESS_KEY.verify_key)) == 1679315147
    witness = parse_cosigner_verifier_key(cosigner_verifier_key(WITNESS, bytes(WITNESS_KEY.verify_key)))
    signed = open_checkpoint(add_signatures(note, [line]), PLATFORM.verifier(), [witness])
    assert signed.checkpoint == CP
    assert [(c.name, c.status, c.timestamp) for c in signed.cosignatures] == [
        (WITNESS, "verified", 1679315147)
    ]
    unknown = open_checkpoint(add_signatures(note, [line]), PLATFORM.verifier())
    assert [c.status for c in unknown.cosignatures] == ["unknown key"]


def test_cosigned_message_format() -> None:
    assert cosigned_message(b"o\n1\nR=\n", 5) == b"cosignature/v1\ntime 5\no\n1\nR=\n"


def test_tampered_cosignatures_rejected() -> None:
    line = cosign(CP, WITNESS, WITNESS_KEY, 1679315147)
    pk = bytes(WITNESS_KEY.verify_key)
    other = Checkpoint(CP.origin, CP.size + 1, CP.root)
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(line, other, WITNESS, pk)
    name, value = line.rstrip("\n").split(" ")[1:]
    from tierflow.ledger.canonical import b64d, b64e

    raw = bytearray(b64d(value))
    raw[11] ^= 1  # inside the timestamp
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(f"— {name} {b64e(bytes(raw))}\n", CP, WITNESS, pk)
    witness = parse_cosigner_verifier_key(cosigner_verifier_key(WITNESS, pk))
    note = add_signatures(sign_checkpoint(CP, PLATFORM), [f"— {name} {b64e(bytes(raw))}"])
    assert [c.status for c in open_checkpoint(note, PLATFORM.verifier(), [witness]).cosignatures] == [
        "invalid"
    ]
    with pytest.raises(NoteError, match="not from"):
        verify_cosignature(line, CP, "someone.else", pk)


def test_platform_signature_required() -> None:
    note = sign_checkpoint(CP, NoteSigner(PLATFORM.name, SigningKey.generate()))
    with pytest.raises(NoteError):
        open_checkpoint(note, PLATFORM.verifier())
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(sign_checkpoint(CP, PLATFORM).replace("20852163", "20852164"), PLATFORM.verifier())
