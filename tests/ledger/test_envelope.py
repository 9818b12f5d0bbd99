from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from nacl.signing import SigningKey

from tierflow.ledger.canonical import b64e, canonical_json
from tierflow.ledger.envelope import (
    COMMAND_CONTEXT,
    EnvelopeError,
    PartyKeys,
    SignatureError,
    build_leaf,
    command_digest,
    command_signing_bytes,
    format_rfc3339,
    parse_leaf,
    parse_rfc3339,
    sign_command,
    verify_command,
)

KEY = SigningKey.generate()


def command(**body: Any) -> dict[str, Any]:
    return {
        "kind": "voucher.issue",
        "actor": "p1",
        "nonce": "n1",
        "issued_at": "2024-05-01T12:00:00Z",
        "body": body,
    }


def test_sign_and_verify() -> None:
    cmd = command(amount="10.00")
    assert command_signing_bytes(cmd) == COMMAND_CONTEXT + canonical_json(cmd)
    sig = sign_command(cmd, KEY)
    verify_command(cmd, sig, bytes(KEY.verify_key))
    with pytest.raises(SignatureError, match="does not verify"):
        verify_command(command(amount="10.01"), sig, bytes(KEY.verify_key))
    with pytest.raises(SignatureError, match="base64"):
        verify_command(cmd, "!!", bytes(KEY.verify_key))
    with pytest.raises(SignatureError, match="expected 64"):
        verify_command(cmd, b64e(b"x" * 10), bytes(KEY.verify_key))
    assert len(command_digest(cmd)) == 64


def test_command_shape() -> None:
    with pytest.raises(EnvelopeError):
        command_signing_bytes({**command(), "extra": 1})
    with pytest.raises(EnvelopeError):
        command_signing_bytes({**command(), "issued_at": "2024-05-01 12:00:00"})
    with pytest.raises(EnvelopeError, match="float"):
        sign_command(command(amount=1.5), KEY)


def test_rfc3339() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 1500, tzinfo=UTC)
    assert format_rfc3339(moment) == "2024-05-01T12:00:00.001500Z"
    assert parse_rfc3339(format_rfc3339(moment)) == moment
    for bad in ["2024-05-01T12:00:00+00:00", "2024-13-01T12:00:00Z", "x"]:
        with pytest.raises(EnvelopeError):
            parse_rfc3339(bad)


def test_leaf_round_trip_and_strictness() -> None:
    cmd = command()
    leaf = build_leaf(
        event_id="e1",
        kind="voucher.issue",
        at="2024-05-01T12:00:01Z",
        command=cmd,
        signature=sign_command(cmd, KEY),
        effects={"voucher": "v1"},
    )
    entry = parse_leaf(leaf)
    assert entry.command == cmd and entry.raw == leaf and entry.v == 1
    with pytest.raises(EnvelopeError, match="canonical"):
        parse_leaf(leaf.replace(b'{"at"', b'{ "at"'))
    with pytest.raises(EnvelopeError, match="version"):
        parse_leaf(leaf.replace(b'"v":1', b'"v":2'))
    with pytest.raises(EnvelopeError, match="fields"):
        parse_leaf(leaf.replace(b',"v":1', b""))


def _registered(actor: str, party: str, key: SigningKey, signer: SigningKey | None = None) -> bytes:
    cmd = {
        "kind": "party.register",
        "actor": actor,
        "nonce": party,
        "issued_at": "2024-05-01T12:00:00Z",
        "body": {"public_key": b64e(bytes(key.verify_key))},
    }
    return build_leaf(
        event_id=party,
        kind="party.register",
        at="2024-05-01T12:00:00Z",
        command=cmd,
        signature=sign_command(cmd, signer or key),
        effects={"party_id": party},
    )


def test_party_key_rules() -> None:
    op, supplier = SigningKey.generate(), SigningKey.generate()
    keys = PartyKeys()
    with pytest.raises(SignatureError, match="first"):
        PartyKeys().apply(parse_leaf(_registered("op", "s1", supplier)))
    keys.apply(parse_leaf(_registered("op", "op", op)))
    with pytest.raises(SignatureError, match="does not verify"):
        keys.apply(parse_leaf(_registered("op", "s1", supplier, signer=op)))
    with pytest.raises(SignatureError, match="not a registered party"):
        keys.apply(parse_leaf(_registered("ghost", "s1", supplier)))
    keys.apply(parse_leaf(_registered("op", "s1", supplier)))
    assert keys.key_for("s1") == bytes(supplier.verify_key)


def test_spliced_leaf_equals_whole_canonicalisation() -> None:
    from tierflow.ledger.canonical import canonical_json
    from tierflow.ledger.envelope import build_leaf, canonical_command

    command = {
        "kind": "transfer.offer",
        "actor": "pty_a",
        "nonce": "n\u00e9",
        "issued_at": "2026-01-05T09:00:00Z",
        "body": {"amount": "1.00", "z": [1, {"b": None, "a": True}], "\u20ac": "euro"},
    }
    effects = {"offer_id": "ofr_1", "nested": {"y": 2, "x": "\u2603"}}
    whole = canonical_json(
        {
            "v": 1,
            "id": "evt_1",
            "kind": "transfer.offer",
            "at": "2026-01-05T09:00:00Z",
            "command": command,
            "signature": "c2ln",
            "effects": effects,
        }
    )
    args = dict(
        event_id="evt_1",
        kind="transfer.offer",
        at="2026-01-05T09:00:00Z",
        command=command,
        signature="c2ln",
        effects=effects,
    )
    assert build_leaf(**args) == whole  # type: ignore[arg-type]
    assert build_leaf(**args, command_bytes=canonical_command(command)) == whole  # type: ignore[arg-type]
