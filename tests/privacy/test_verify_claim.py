"""Claim verification: verdict equals the plaintext test; leakage, sizes, freshness and abort behaviour."""

from __future__ import annotations

import base64
import hashlib
import json
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from tierflow.privacy.messages import ProtocolAbort, seal
from tierflow.privacy.secure_sum import run_in_memory
from tierflow.privacy.transport import InMemoryNetwork, Interceptor
from tierflow.privacy.verify_claim import (
    Basis,
    ClaimParams,
    ClaimParty,
    ClaimRole,
    dyadic_cover,
    prefixes,
    within_tolerance,
)

KEYS = {name: SigningKey.generate() for name in ("supplier", "core", "coord")}
VERIFY = {name: key.verify_key for name, key in KEYS.items()}


def params(bits: int = 40, absolute: int = 0, relative: Fraction = Fraction(0), basis: Basis = Basis.CLAIM,
           job: str = "job-1") -> ClaimParams:  # fmt: skip
    return ClaimParams(job, "supplier", "core", "coord", bits, absolute, relative, basis)


def roles(p: ClaimParams, claim: int, record: int) -> list[ClaimParty]:
    return [
        ClaimParty(p, ClaimRole.CLAIMANT, claim, signing_key=KEYS["supplier"], verify_keys=VERIFY),
        ClaimParty(p, ClaimRole.HOLDER, record, signing_key=KEYS["core"], verify_keys=VERIFY),
        ClaimParty(p, ClaimRole.COORDINATOR, signing_key=KEYS["coord"], verify_keys=VERIFY),
    ]


def run(
    p: ClaimParams, claim: int, record: int, net: InMemoryNetwork | None = None
) -> tuple[list[ClaimParty], InMemoryNetwork]:
    parties = roles(p, claim, record)
    return parties, run_in_memory(parties, net)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    claim=st.integers(0, 2**20 - 1), delta=st.integers(-3000, 3000), absolute=st.integers(0, 1500),
    relative=st.fractions(0, Fraction(99, 100), max_denominator=1000), basis=st.sampled_from(list(Basis)),
)  # fmt: skip
def test_verdict_equals_plaintext(claim: int, delta: int, absolute: int, relative: Fraction, basis: Basis) -> None:
    record = min(max(claim + delta, 0), 2**20 - 1)
    p = params(20, absolute, relative, basis)
    parties, _ = run(p, claim, record)
    expected = within_tolerance(p, claim, record)
    assert [q.result for q in parties] == [expected] * 3


@pytest.mark.parametrize("basis", list(Basis))
def test_boundaries_exhaustively_small_domain(basis: Basis) -> None:
    p = params(6, absolute=2, relative=Fraction(1, 10), basis=basis)
    for claim in range(64):
        lo, hi = p.interval(claim)
        accepted = [r for r in range(64) if within_tolerance(p, claim, r)]
        assert accepted == list(range(lo, hi + 1))
        blocks = dyadic_cover(lo, hi, 6)
        assert len(blocks) <= p.cover_tags
        for r in range(64):
            assert len(set(blocks) & set(prefixes(r, 6))) == (lo <= r <= hi)
    for claim, record in [(0, 0), (63, 60), (30, 33), (30, 34), (50, 45)]:
        parties, _ = run(p, claim, record)
        assert parties[2].result is within_tolerance(p, claim, record)


def test_money_example_and_full_width() -> None:
    p = params(64, relative=Fraction(1, 100))  # declared turnover within 1 % of the purchase total
    parties, _ = run(p, 1_250_000_00, 1_240_000_00)
    assert all(q.result is True for q in parties)
    parties, _ = run(p, 1_250_000_00, 1_230_000_00)
    assert all(q.result is False for q in parties)
    parties, _ = run(p, 2**64 - 1, 2**64 - 1)
    assert parties[2].result is True


def _bodies(net: InMemoryNetwork) -> list[bytes]:
    return [base64.b64decode(json.loads(t.data)["body"]) for t in net.tap]


def test_no_input_or_plain_hash_in_any_message() -> None:
    claim, record = 987_654_321_00, 987_654_320_55
    p = params(48, absolute=100)
    _, net = run(p, claim, record)
    secrets_: list[bytes] = []
    for v in (claim, record, *p.interval(claim)):
        for raw in (v.to_bytes(8, "big"), v.to_bytes(8, "little"), str(v).encode()):
            secrets_ += [raw, hashlib.sha256(raw).digest()]
    blobs = [t.data for t in net.tap] + _bodies(net)
    for blob in blobs:
        for secret in secrets_:
            assert secret not in blob
            assert len(secret) < 6 or base64.b64encode(secret)[:-4] not in blob


def test_message_sizes_depend_only_on_public_parameters() -> None:
    p = params(32, absolute=5, relative=Fraction(1, 50))
    runs = [(0, 0), (2**32 - 1, 17), (123_456, 123_460), (2**31, 2**31 + 1)]
    sizes = [sorted((t.sender, t.recipient, len(t.data)) for t in run(p, c, r)[1].tap) for c, r in runs]
    assert all(s == sizes[0] for s in sizes)
    _, net = run(p, 5, 5)
    assert {json.loads(t.data)["kind"]: len(b) for t, b in zip(net.tap, _bodies(net), strict=True)} == p.body_sizes()


def test_coordinator_sees_distinct_fresh_tags() -> None:
    p = params(16)
    first, second = _bodies(run(p, 1000, 1000)[1]), _bodies(run(p, 1000, 1000)[1])
    runs = [[b[i : i + 32] for b in bodies if len(b) > 32 for i in range(0, len(b), 32)] for bodies in (first, second)]
    for tags in runs:  # within a run exactly one tag is shared (the match); all others are distinct
        assert len(tags) - len(set(tags)) == 1
    assert set(runs[0]).isdisjoint(runs[1])  # no tag repeats across runs: keys are fresh
    keys = [b for b in first + second if len(b) == 32]
    assert len(set(keys)) == 4


def _flip(kind: str) -> Interceptor:
    def flip(sender: str, recipient: str, data: bytes) -> list[bytes]:
        wire = json.loads(data)
        if wire["kind"] != kind:
            return [data]
        body = bytearray(base64.b64decode(wire["body"]))
        body[0] ^= 1
        wire["body"] = base64.b64encode(bytes(body)).decode()
        return [json.dumps(wire).encode()]

    return flip


@pytest.mark.parametrize("kind", ["key", "cover", "prefixes", "verdict"])
def test_tampered_message_aborts(kind: str) -> None:
    with pytest.raises(ProtocolAbort, match="bad signature"):
        run(params(16), 10, 10, InMemoryNetwork(_flip(kind)))


def test_replayed_and_duplicated_messages_abort() -> None:
    def duplicate(sender: str, recipient: str, data: bytes) -> list[bytes]:
        return [data, data] if sender == "supplier" and b'"kind":"key"' in data else [data]

    with pytest.raises(ProtocolAbort, match="replayed"):
        run(params(16), 10, 10, InMemoryNetwork(duplicate))
    p = params(16)
    parties = roles(p, 10, 10)
    coordinator = parties[2]
    coordinator.start()
    zeros = seal(KEYS["supplier"], job_id=p.job_id, protocol=p.protocol, sender="supplier", recipient="coord",
                 seq=0, kind="cover", body=bytes(32 * p.cover_tags))  # fmt: skip
    with pytest.raises(ProtocolAbort, match="duplicate tags"):
        coordinator.on_message(zeros.to_wire())


def test_oversized_wrong_size_wrong_kind_and_wrong_params_abort() -> None:
    p = params(16)
    coordinator = roles(p, 1, 1)[2]
    coordinator.start()
    with pytest.raises(ProtocolAbort, match="exceeds"):
        coordinator.on_message(b"{" + b" " * p.max_message_bytes() + b"}")
    coordinator = roles(p, 1, 1)[2]
    coordinator.start()
    short = seal(KEYS["supplier"], job_id=p.job_id, protocol=p.protocol, sender="supplier", recipient="coord",
                 seq=0, kind="cover", body=bytes(32))  # fmt: skip
    with pytest.raises(ProtocolAbort, match="wrong size"):
        coordinator.on_message(short.to_wire())
    claimant = roles(p, 1, 1)[0]
    claimant.start()
    wrong = seal(KEYS["coord"], job_id=p.job_id, protocol=p.protocol, sender="coord", recipient="supplier",
                 seq=0, kind="verdict", body=b"\x01")  # fmt: skip
    with pytest.raises(ProtocolAbort, match="unexpected"):
        claimant.on_message(wrong.to_wire())
    holder = roles(params(16, absolute=1), 1, 1)[1]  # disagrees on the tolerance
    holder.start()
    with pytest.raises(ProtocolAbort, match="another protocol"):
        holder.on_message(roles(p, 1, 1)[0].start()[0][1])


def test_parameter_and_input_validation() -> None:
    with pytest.raises(ValueError, match="range"):
        roles(params(8), 256, 1)
    with pytest.raises(ValueError, match="below 1"):
        params(basis=Basis.RECORD, relative=Fraction(1))
    with pytest.raises(ValueError, match="distinct"):
        ClaimParams("j", "a", "a", "c", 8)
    with pytest.raises(TypeError):
        roles(params(8), 1.5, 1)  # type: ignore[arg-type]
