"""Secure sum: output equals the plaintext sum; leakage, sizes, freshness, cohort, DP noise and abort behaviour."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from tierflow.privacy.messages import ProtocolAbort, seal
from tierflow.privacy.secure_sum import (
    BUNDLE_BYTES,
    DifferentialPrivacy,
    SumAggregator,
    SumParams,
    SumParty,
    discrete_laplace,
    plaintext_sum,
    run_in_memory,
)
from tierflow.privacy.transport import InMemoryNetwork, Interceptor

IDS = [f"bank-{i}" for i in range(6)]
KEYS = {name: SigningKey.generate() for name in [*IDS, "agg"]}
VERIFY = {name: key.verify_key for name, key in KEYS.items()}


def params(n: int = 4, length: int = 5, bound: int = 10**12, job: str = "job-1", **kw: object) -> SumParams:
    return SumParams(job, "agg", tuple(IDS[:n]), length, bound, kw.pop("min_cohort", 3), **kw)  # type: ignore[arg-type]


def roles(p: SumParams, vectors: Sequence[Sequence[int]]) -> tuple[SumAggregator, list[SumParty]]:
    agg = SumAggregator(p, signing_key=KEYS["agg"], verify_keys=VERIFY)
    parties = [
        SumParty(p, pid, v, signing_key=KEYS[pid], verify_keys=VERIFY)
        for pid, v in zip(p.parties, vectors, strict=True)
    ]
    return agg, parties


def run(
    p: SumParams, vectors: Sequence[Sequence[int]], net: InMemoryNetwork | None = None
) -> tuple[SumAggregator, list[SumParty], InMemoryNetwork]:
    agg, parties = roles(p, vectors)
    return agg, parties, run_in_memory([agg, *parties], net)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(3, 6), length=st.integers(1, 6))
def test_output_equals_plaintext(data: st.DataObject, n: int, length: int) -> None:
    bound = 10**12
    value = st.integers(-bound, bound)
    vectors = data.draw(st.lists(st.lists(value, min_size=length, max_size=length), min_size=n, max_size=n))
    agg, parties, _ = run(params(n, length, bound), vectors)
    expected = plaintext_sum(vectors)
    assert agg.result is not None and agg.result.total.tolist() == expected
    assert agg.result.contributors == n and not agg.result.noised
    for party in parties:
        assert party.done and party.result is not None and party.result.total.tolist() == expected


def test_counts_and_extreme_bounds() -> None:
    rng = random.Random(3)
    flags = [[rng.randint(0, 1) for _ in range(50)] for _ in range(5)]
    agg, _, _ = run(params(5, 50, bound=1), flags)
    assert agg.result is not None and agg.result.total.tolist() == [sum(c) for c in zip(*flags, strict=True)]
    bound = (2**62 - 1) // 4  # the largest admissible bound for 4 parties: totals near the int64 edge
    vectors = [[bound, -bound, bound], [bound, -bound, 0], [bound, -bound, -bound], [bound, -bound, 1]]
    agg, _, _ = run(params(4, 3, bound), vectors)
    assert agg.result is not None and agg.result.total.tolist() == plaintext_sum(vectors)
    np_vectors = [np.arange(3, dtype=np.int32) * (i + 1) for i in range(3)]
    agg, _, _ = run(params(3, 3), np_vectors)  # type: ignore[arg-type]
    assert agg.result is not None and agg.result.total.tolist() == [0, 6, 12]


def _bodies(net: InMemoryNetwork) -> list[bytes]:
    return [base64.b64decode(json.loads(t.data)["body"]) for t in net.tap]


def test_no_input_or_plain_hash_in_any_message() -> None:
    rng = random.Random(11)
    vectors = [[rng.randrange(10**9, 10**12) for _ in range(4)] for _ in range(4)]
    _, _, net = run(params(4, 4), vectors)
    secrets_: list[bytes] = []
    for vector in vectors:
        raw = np.array(vector, dtype="<i8").tobytes()
        secrets_ += [raw, hashlib.sha256(raw).digest(), hashlib.sha256(json.dumps(vector).encode()).digest()]
        for v in vector:
            secrets_ += [
                v.to_bytes(8, "little", signed=True),
                str(v).encode(),
                hashlib.sha256(str(v).encode()).digest(),
            ]
    blobs = [t.data for t in net.tap] + _bodies(net)
    for blob in blobs:
        for secret in secrets_:
            assert secret not in blob
            assert len(secret) < 6 or base64.b64encode(secret)[:-4] not in blob


def test_masked_vectors_look_uniform() -> None:
    vectors = [[0] * 2000 for _ in range(3)]  # all-zero inputs: what the aggregator sees is the masks alone
    _, _, net = run(params(3, 2000), vectors)
    masked = [
        np.frombuffer(b, dtype="<u8")
        for t, b in zip(net.tap, _bodies(net), strict=True)
        if b'"kind":"masked"' in t.data
    ]
    assert len(masked) == 3
    for m in masked:
        top_bits = (m >> np.uint64(63)).astype(np.int64)
        assert 0.45 < top_bits.mean() < 0.55 and len(set(m.tolist())) == 2000


def test_message_sizes_depend_only_on_public_parameters() -> None:
    p = params(4, 6)
    inputs = [[[0] * 6] * 4, [[10**12] * 6] * 4, [[(-1) ** i * i for i in range(6)]] * 4]
    sizes = [[len(t.data) for t in run(p, vectors)[2].tap] for vectors in inputs]
    assert sizes[0] == sizes[1] == sizes[2]
    net = run(p, inputs[0])[2]
    assert {json.loads(t.data)["kind"]: len(b) for t, b in zip(net.tap, _bodies(net), strict=True)} == p.body_sizes()


def test_fresh_keys_and_masks_per_run() -> None:
    p = params(3, 4)
    vectors = [[1, 2, 3, 4]] * 3
    first, second = _bodies(run(p, vectors)[2]), _bodies(run(p, vectors)[2])
    keys = [b[:32] for b in first if len(b) == BUNDLE_BYTES] + [b[:32] for b in second if len(b) == BUNDLE_BYTES]
    assert len(set(keys)) == 6
    net_a, net_b = run(p, vectors)[2], run(p, vectors)[2]
    masked = [
        b for net in (net_a, net_b) for t, b in zip(net.tap, _bodies(net), strict=True) if b'"kind":"masked"' in t.data
    ]
    assert len(masked) == 6 and len(set(masked)) == 6


def test_minimum_cohort_is_declared_and_checked() -> None:
    with pytest.raises(ValueError, match="minimum cohort"):
        params(3, min_cohort=4)
    with pytest.raises(ValueError, match="at least 2"):
        params(3, min_cohort=1)
    # a party expecting a larger cohort is running a different protocol: the first message aborts the job
    loose, strict = params(4, min_cohort=3), params(4, min_cohort=4)
    agg = SumAggregator(loose, signing_key=KEYS["agg"], verify_keys=VERIFY)
    party = SumParty(strict, IDS[0], [0] * 5, signing_key=KEYS[IDS[0]], verify_keys=VERIFY)
    agg.start()
    with pytest.raises(ProtocolAbort, match="another protocol"):
        agg.on_message(party.start()[0][1])


def test_input_validation() -> None:
    p = params(3, 2, bound=100)
    with pytest.raises(ValueError, match="bound"):
        roles(p, [[101, 0], [0, 0], [0, 0]])
    with pytest.raises(ValueError, match="shape"):
        roles(p, [[1], [0, 0], [0, 0]])
    with pytest.raises(TypeError):
        roles(p, [[0.5, 0], [0, 0], [0, 0]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="2\\^62"):
        params(4, bound=2**60)


def test_party_drop_out_aborts() -> None:
    def drop_last(sender: str, recipient: str, data: bytes) -> list[bytes]:
        return [] if sender == IDS[2] and b'"kind":"masked"' in data else [data]

    with pytest.raises(ProtocolAbort, match="stalled"):
        run(params(3), [[1] * 5] * 3, InMemoryNetwork(drop_last))


def _flip(target_kind: str) -> Interceptor:
    def flip(sender: str, recipient: str, data: bytes) -> list[bytes]:
        wire = json.loads(data)
        if wire["kind"] != target_kind:
            return [data]
        body = bytearray(base64.b64decode(wire["body"]))
        body[3] ^= 1
        wire["body"] = base64.b64encode(bytes(body)).decode()
        return [json.dumps(wire).encode()]

    return flip


@pytest.mark.parametrize("kind", ["key", "keys", "masked", "total"])
def test_tampered_message_aborts(kind: str) -> None:
    with pytest.raises(ProtocolAbort, match="bad signature"):
        run(params(3), [[1] * 5] * 3, InMemoryNetwork(_flip(kind)))


def test_substituted_key_aborts() -> None:
    p = params(3)
    agg, parties = roles(p, [[1] * 5] * 3)

    def substitute(sender: str, recipient: str, data: bytes) -> list[bytes]:
        wire = json.loads(data)
        if wire["kind"] != "keys" or recipient != IDS[0]:
            return [data]
        body = bytearray(base64.b64decode(wire["body"]))
        body[BUNDLE_BYTES : BUNDLE_BYTES + 32] = bytes(range(32))  # aggregator swaps bank-1's key for bank-0
        resealed = seal(KEYS["agg"], job_id=p.job_id, protocol=p.protocol, sender="agg", recipient=recipient,
                        seq=wire["seq"], kind="keys", body=bytes(body))  # fmt: skip
        return [resealed.to_wire()]

    with pytest.raises(ProtocolAbort, match="not signed by it"):
        run_in_memory([agg, *parties], InMemoryNetwork(substitute))


def test_replayed_message_aborts() -> None:
    seen: list[bytes] = []

    def replay(sender: str, recipient: str, data: bytes) -> list[bytes]:
        if sender == IDS[1]:
            seen.append(data)
            return [data, data] if len(seen) == 1 else [data]  # bank-1's key arrives twice
        return [data]

    with pytest.raises(ProtocolAbort, match="replayed"):
        run(params(3), [[1] * 5] * 3, InMemoryNetwork(replay))


def test_oversized_wrong_size_and_wrong_kind_abort() -> None:
    p = params(3)
    agg = SumAggregator(p, signing_key=KEYS["agg"], verify_keys=VERIFY)
    agg.start()
    with pytest.raises(ProtocolAbort, match="exceeds"):
        agg.on_message(b"{" + b" " * p.max_message_bytes() + b"}")
    agg = SumAggregator(p, signing_key=KEYS["agg"], verify_keys=VERIFY)
    agg.start()
    short = seal(KEYS[IDS[0]], job_id=p.job_id, protocol=p.protocol, sender=IDS[0], recipient="agg", seq=0,
                 kind="key", body=bytes(BUNDLE_BYTES - 1))  # fmt: skip
    with pytest.raises(ProtocolAbort, match="wrong size"):
        agg.on_message(short.to_wire())
    assert agg.state == "aborted"
    agg = SumAggregator(p, signing_key=KEYS["agg"], verify_keys=VERIFY)
    agg.start()
    early = seal(KEYS[IDS[0]], job_id=p.job_id, protocol=p.protocol, sender=IDS[0], recipient="agg", seq=0,
                 kind="masked", body=bytes(8 * p.length))  # fmt: skip
    with pytest.raises(ProtocolAbort, match="unexpected"):
        agg.on_message(early.to_wire())


def test_discrete_laplace_distribution() -> None:
    scale = Fraction(3, 2)
    samples = np.array([discrete_laplace(scale) for _ in range(20_000)], dtype=np.float64)
    q = math.exp(-1 / float(scale))
    variance = 2 * q / (1 - q) ** 2
    assert abs(samples.mean()) < 0.1
    assert abs(samples.var() / variance - 1) < 0.1
    assert abs(np.mean(samples == 0) - (1 - q) / (1 + q)) < 0.02
    assert DifferentialPrivacy(0.5, 2).scale == 4  # type: ignore[arg-type]


def test_dp_noise_only_when_configured() -> None:
    dp = DifferentialPrivacy(Fraction(1), 1)
    vectors = [[5] * 400, [7] * 400, [11] * 400]
    agg, parties, _ = run(params(3, 400, dp=dp), vectors)
    assert agg.result is not None and agg.result.noised
    noise = agg.result.total - 23
    assert np.any(noise != 0) and float(np.abs(noise).mean()) < 3
    assert all(p.result is not None and p.result.total.tolist() == agg.result.total.tolist() for p in parties)
    with pytest.raises(ValueError):
        DifferentialPrivacy(Fraction(0), 1)
