"""Envelope signing and the mailbox's refusals: each one aborts the job."""

from __future__ import annotations

import json

import pytest
from nacl.signing import SigningKey

from tierflow.privacy.messages import Mailbox, Outbox, ProtocolAbort, parse, seal

KEY_A, KEY_B = SigningKey.generate(), SigningKey.generate()


def outbox(job: str = "job-1", protocol: str = "p/v1") -> Outbox:
    return Outbox(job_id=job, protocol=protocol, party="a", key=KEY_A)


def mailbox(limit: int = 10_000) -> Mailbox:
    return Mailbox(job_id="job-1", protocol="p/v1", party="b", peers={"a": KEY_A.verify_key}, max_message_bytes=limit)


def test_round_trip_and_sequence() -> None:
    box, out = mailbox(), outbox()
    first, second = out.seal("b", "k", b"\x00\x01"), out.seal("b", "k", b"two")
    assert box.accept(first).body == b"\x00\x01"
    env = box.accept(second)
    assert (env.seq, env.sender, env.kind, env.body) == (1, "a", "k", b"two")
    assert box.expected_seq("a") == 2


def test_replayed_and_out_of_order_abort() -> None:
    out = outbox()
    first, second, third = (out.seal("b", "k", b"x") for _ in range(3))
    box = mailbox()
    box.accept(first)
    with pytest.raises(ProtocolAbort, match="replayed"):
        box.accept(first)
    with pytest.raises(ProtocolAbort, match="out-of-order"):
        box.accept(third)
    box.accept(second)


def test_tampered_body_or_header_aborts() -> None:
    wire = json.loads(outbox().seal("b", "k", b"payload"))
    for field, value in (("body", "cGF5bG9hZQ=="), ("kind", "other"), ("seq", 0), ("recipient", "b")):
        forged = dict(wire, **{field: value})
        if forged == wire:
            continue
        with pytest.raises(ProtocolAbort, match="bad signature"):
            mailbox().accept(json.dumps(forged).encode())
    forged_key = seal(KEY_B, job_id="job-1", protocol="p/v1", sender="a", recipient="b", seq=0, kind="k", body=b"")
    with pytest.raises(ProtocolAbort, match="bad signature"):
        mailbox().accept(forged_key.to_wire())


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (outbox(job="job-2").seal("b", "k", b""), "another job"),
        (outbox(protocol="p/v2").seal("b", "k", b""), "another protocol"),
        (outbox().seal("c", "k", b""), "another party"),
        (b"not json", "malformed"),
        (b"[]", "malformed"),
    ],
)
def test_misdirected_or_malformed_aborts(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolAbort, match=reason):
        mailbox().accept(data)


def test_wrong_version_and_unknown_sender_abort() -> None:
    wire = json.loads(outbox().seal("b", "k", b""))
    with pytest.raises(ProtocolAbort, match="version"):
        mailbox().accept(json.dumps(dict(wire, version=2)).encode())
    with pytest.raises(ProtocolAbort, match="unknown sender"):
        mailbox().accept(json.dumps(dict(wire, sender="z")).encode())
    with pytest.raises(ProtocolAbort, match="malformed"):
        mailbox().accept(json.dumps(dict(wire, seq=True)).encode())


def test_oversized_message_aborts_before_parsing() -> None:
    wire = outbox().seal("b", "k", b"x" * 2000)
    with pytest.raises(ProtocolAbort, match="exceeds"):
        mailbox(limit=len(wire) - 1).accept(wire)
    assert parse(wire, len(wire)).body == b"x" * 2000
