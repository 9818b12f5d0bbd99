"""Joint logistic regression: outputs equal the plaintext update; homomorphic properties; leakage and aborts."""

from __future__ import annotations

import base64
import hashlib
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey, VerifyKey
from phe import paillier

from tierflow.privacy.logreg import (
    FRAC_BITS_D,
    FRAC_BITS_X,
    LogRegParams,
    LogRegParty,
    Role,
    Task,
    add,
    add_plain,
    decode,
    decrypt,
    encode,
    encrypt,
    plaintext_reference,
    quantise,
    randomisers,
    run_in_memory,
    scalar_mul,
)
from tierflow.privacy.messages import ProtocolAbort, seal
from tierflow.privacy.transport import InMemoryNetwork

KEYS = {p: SigningKey.generate() for p in ("bank", "core", "arbiter")}
PUBLIC, PRIVATE = paillier.generate_paillier_keypair(n_length=1024)
N = int(PUBLIC.n)
TOL = 1e-6  # weights vs the plaintext update: features are fixed point with 2^-24 resolution


def peers(me: str) -> dict[str, VerifyKey]:
    return {p: k.verify_key for p, k in KEYS.items() if p != me}


def params(
    rows: int = 24, fb: int = 2, fa: int = 3, *, task: Task = Task.TRAIN, job: str = "job-1", **kw: object
) -> LogRegParams:
    defaults: dict[str, object] = {"key_bits": 1024, "epochs": 2, "batch_size": 12 if task is Task.TRAIN else 0}
    defaults.update(kw)
    return LogRegParams(job, task, "bank", "core", "arbiter", rows, fb, fa, **defaults)  # type: ignore[arg-type]


def data(p: LogRegParams, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xb = rng.normal(size=(p.rows, p.guest_features))
    xa = rng.normal(size=(p.rows, p.host_features)) * 3
    y = (rng.random(p.rows) < 0.4).astype(float)
    return xb, xa, y


def parties(p: LogRegParams, xb: np.ndarray, xa: np.ndarray, y: np.ndarray) -> list[LogRegParty]:
    return [
        LogRegParty(p, Role.GUEST, signing_key=KEYS["bank"], peer_keys=peers("bank"), features=xb, labels=y),
        LogRegParty(p, Role.HOST, signing_key=KEYS["core"], peer_keys=peers("core"), features=xa),
        LogRegParty(p, Role.ARBITER, signing_key=KEYS["arbiter"], peer_keys=peers("arbiter")),
    ]


def bodies(net: InMemoryNetwork) -> list[bytes]:
    return [base64.b64decode(json.loads(t.data)["body"]) for t in net.tap]


# --- homomorphic operations with our fixed-point encoding ------------------------------------------------------

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
scalars = st.floats(min_value=-100, max_value=100, allow_nan=False)


def enc(v: float, bits: int = FRAC_BITS_D) -> int:
    return encrypt(N, [encode(N, v, bits)], randomisers(N, 1))[0]


def dec(c: int, bits: int = FRAC_BITS_D) -> float:
    return decode(N, decrypt(PRIVATE, [c])[0], bits)


@settings(max_examples=40, deadline=None)
@given(a=values, b=values)
def test_add_is_homomorphic(a: float, b: float) -> None:
    eps = 2.0**-FRAC_BITS_D
    assert abs(dec(add(N, [enc(a)], [enc(b)])[0]) - (a + b)) <= 2 * eps
    assert abs(dec(add_plain(N, [enc(a)], [encode(N, b, FRAC_BITS_D)])[0]) - (a + b)) <= 2 * eps
    # our ciphertexts are phe ciphertexts with exponent -bits/4: phe's own addition and decryption agree
    ea = paillier.EncryptedNumber(PUBLIC, enc(a), -FRAC_BITS_D // 4)
    eb = paillier.EncryptedNumber(PUBLIC, enc(b), -FRAC_BITS_D // 4)
    assert abs(PRIVATE.decrypt(ea + eb) - (a + b)) <= 2 * eps


@settings(max_examples=40, deadline=None)
@given(a=values, k=scalars)
def test_scalar_mul_is_homomorphic(a: float, k: float) -> None:
    (q,) = quantise([k], FRAC_BITS_X)
    bits = FRAC_BITS_D + FRAC_BITS_X
    exact = q / 2**FRAC_BITS_X * a  # k as encoded
    got = dec(scalar_mul(N, enc(a), q), bits)
    assert abs(got - exact) <= abs(q) * 2.0**-bits + 1e-9 * abs(exact)
    assert abs(got - k * a) <= 2.0**-FRAC_BITS_X * abs(a) + abs(q) * 2.0**-bits + 1e-9 * abs(exact)
    phe_product = paillier.EncryptedNumber(PUBLIC, enc(a), -FRAC_BITS_D // 4) * k
    assert abs(PRIVATE.decrypt(phe_product) - k * a) <= 1e-6 * max(1.0, abs(k * a))


def test_encryption_is_randomised() -> None:
    assert enc(1.5) != enc(1.5)


# --- outputs equal the plaintext computation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "fb"),
    [({}, 2), ({"epochs": 3, "batch_size": 8, "l2": 0.05}, 2), ({"fit_intercept": False, "batch_size": 0}, 1)],
)
def test_training_equals_plaintext_update(kw: dict[str, object], fb: int) -> None:
    p = params(fb=fb, **kw)
    xb, xa, y = data(p)
    guest, host, arbiter = parties(p, xb, xa, y)
    run_in_memory([guest, host, arbiter])
    wb, b, wa = plaintext_reference(p, xb, xa, y)
    assert guest.result is not None and host.result is not None and arbiter.result is None
    assert guest.result.weights is not None and host.result.weights is not None
    assert np.abs(guest.result.weights - wb).max() <= TOL
    assert np.abs(host.result.weights - wa).max() <= TOL
    assert p.fit_intercept == (guest.result.intercept is not None)
    if guest.result.intercept is not None:
        assert abs(guest.result.intercept - b) <= TOL
    assert np.abs(wa).max() > 1e-3  # the host's model actually moved


def test_training_improves_fit_on_separable_data() -> None:
    p = params(rows=40, epochs=4, batch_size=20, learning_rate=0.5)
    rng = np.random.default_rng(3)
    xb, xa = rng.normal(size=(40, 2)), rng.normal(size=(40, 3))
    y = ((xb.sum(1) + xa.sum(1)) > 0).astype(float)
    guest, host, _ = ps = parties(p, xb, xa, y)
    run_in_memory(ps)
    assert guest.result is not None and host.result is not None
    assert guest.result.weights is not None and host.result.weights is not None
    z = xb @ guest.result.weights + xa @ host.result.weights + (guest.result.intercept or 0.0)
    assert ((z > 0) == (y > 0)).mean() >= 0.9


def test_scoring_equals_plaintext() -> None:
    p = params(rows=7, task=Task.SCORE)
    xb, xa, _ = data(p, seed=5)
    wb, wa, b = np.array([0.3, -1.2]), np.array([2.0, -0.5, 0.01]), -0.7
    guest = LogRegParty(p, Role.GUEST, signing_key=KEYS["bank"], peer_keys=peers("bank"), features=xb, weights=wb,
                        intercept=b)  # fmt: skip
    host = LogRegParty(p, Role.HOST, signing_key=KEYS["core"], peer_keys=peers("core"), features=xa, weights=wa)
    arbiter = LogRegParty(p, Role.ARBITER, signing_key=KEYS["arbiter"], peer_keys=peers("arbiter"))
    net = run_in_memory([guest, host, arbiter])
    z = xb @ wb + xa @ wa + b
    assert guest.result is not None and guest.result.logits is not None and guest.result.scores is not None
    assert np.abs(guest.result.logits - z).max() <= 1e-12
    assert np.abs(guest.result.scores - 1 / (1 + np.exp(-z))).max() <= 1e-12
    assert host.result is None and arbiter.result is None
    kinds = [(t.sender, t.recipient, json.loads(t.data)["kind"]) for t in net.tap]
    assert ("arbiter", "core", "scores") not in kinds and ("core", "arbiter", "masked_scores") not in kinds


# --- leakage ---------------------------------------------------------------------------------------------------


def _forms(value: float) -> list[bytes]:
    out = [struct.pack(">d", value), struct.pack("<d", value), repr(value).encode(), f"{value:.6f}".encode()]
    for bits in (FRAC_BITS_X, FRAC_BITS_D):
        q = round(value * 2**bits)
        if abs(q) >= 2**40:  # shorter byte strings occur by chance in megabytes of ciphertext
            out += [abs(q).to_bytes(-(-abs(q).bit_length() // 8), "big")]
    return out


def test_no_input_label_or_weight_in_any_message() -> None:
    p = params()
    xb, xa, y = data(p)
    guest, host, _ = ps = parties(p, xb, xa, y)
    net = run_in_memory(ps)
    assert guest.result is not None and host.result is not None
    assert guest.result.weights is not None and host.result.weights is not None
    secrets_ = [y.tobytes(), y.astype(np.uint8).tobytes(), "".join(str(int(v)) for v in y).encode()]
    for v in [*xb.ravel(), *xa.ravel(), *guest.result.weights, *host.result.weights]:
        secrets_ += _forms(float(v))
    secrets_ += [hashlib.sha256(xb.tobytes()).digest(), hashlib.sha256(xa.tobytes()).digest()]
    blobs = [t.data for t in net.tap] + bodies(net)
    for blob in blobs:
        for secret in secrets_:
            assert secret not in blob
            if len(secret) >= 8:
                assert base64.b64encode(secret)[:-4] not in blob


def test_arbiter_sees_only_masked_values() -> None:
    """Same data, two runs: every value the arbiter decrypts differs, and none is the true gradient."""
    p = params()
    xb, xa, y = data(p)
    runs, moduli = [], []
    for _ in range(2):
        net = run_in_memory(parties(p, xb, xa, y))
        sent = [b for t, b in zip(net.tap, bodies(net), strict=True) if t.sender == "arbiter"]
        moduli.append(int.from_bytes(sent[0], "big"))
        runs.append(sent[2:])
    first, second = runs
    assert all(a != b for a, b in zip(first, second, strict=True))
    for body in first:
        for i in range(0, len(body), p.pt_bytes):
            value = int.from_bytes(body[i : i + p.pt_bytes], "big")
            assert 2**200 < value < moduli[0] - 2**200  # a true fixed-point gradient is within 2^100 of 0 mod n


def test_message_sizes_depend_only_on_public_parameters() -> None:
    p = params()
    sizes = []
    for seed in (1, 2):
        xb, xa, y = data(p, seed)
        sizes.append([len(t.data) for t in run_in_memory(parties(p, xb * 10**seed, xa, y)).tap])
    zeros = [len(t.data) for t in run_in_memory(parties(p, xb * 0, xa * 0, y * 0)).tap]
    assert sizes[0] == sizes[1] == zeros
    net = run_in_memory(parties(p, *data(p)))
    body_sizes = {(t.sender, json.loads(t.data)["kind"], len(b)) for t, b in zip(net.tap, bodies(net), strict=True)}
    assert ("core", "host_logits", 12 * p.ct_bytes) in body_sizes
    assert ("bank", "masked_gradient", 3 * p.ct_bytes) in body_sizes


def test_fresh_keys_per_run() -> None:
    p = params()
    xb, xa, y = data(p)
    first = bodies(run_in_memory(parties(p, xb, xa, y)))
    second = bodies(run_in_memory(parties(p, xb, xa, y)))
    assert first[0] != second[0]  # the arbiter's public key
    assert set(first).isdisjoint(second)


# --- tampering, replay, oversize, wrong sizes ------------------------------------------------------------------


def _interfered(interceptor: object) -> tuple[list[LogRegParty], InMemoryNetwork]:
    p = params()
    return parties(p, *data(p)), InMemoryNetwork(interceptor)  # type: ignore[arg-type]


def test_tampered_message_aborts() -> None:
    def flip(sender: str, recipient: str, raw: bytes) -> list[bytes]:
        wire = json.loads(raw)
        if wire["kind"] != "residuals":
            return [raw]
        body = bytearray(base64.b64decode(wire["body"]))
        body[7] ^= 1
        wire["body"] = base64.b64encode(bytes(body)).decode()
        return [json.dumps(wire).encode()]

    ps, net = _interfered(flip)
    with pytest.raises(ProtocolAbort, match="bad signature"):
        run_in_memory(ps, net)
    assert ps[1].state == "aborted"
    with pytest.raises(ProtocolAbort):
        ps[1].on_message(net.tap[0].data)


def test_replayed_message_aborts() -> None:
    seen: list[bytes] = []

    def replay(sender: str, recipient: str, raw: bytes) -> list[bytes]:
        if sender == "core" and recipient == "bank":
            seen.append(raw)
            return [seen[0]] if len(seen) == 2 else [raw]
        return [raw]

    ps, net = _interfered(replay)
    with pytest.raises(ProtocolAbort, match="replayed"):
        run_in_memory(ps, net)


def test_oversized_wrong_job_and_wrong_size_abort() -> None:
    p = params()
    guest = parties(p, *data(p))[0]
    guest.start()
    with pytest.raises(ProtocolAbort, match="exceeds"):
        guest.on_message(b"{" + b" " * p.max_message_bytes() + b"}")
    guest = parties(p, *data(p))[0]
    guest.start()
    other = parties(params(job="job-2"), *data(p))[2]
    with pytest.raises(ProtocolAbort, match="another job"):
        guest.on_message(other.start()[0][1])
    guest = parties(p, *data(p))[0]
    guest.start()
    short = seal(KEYS["arbiter"], job_id="job-1", protocol=p.protocol, sender="arbiter", recipient="bank", seq=0,
                 kind="public_key", body=b"\x01" * (p.pt_bytes - 1))  # fmt: skip
    with pytest.raises(ProtocolAbort, match="wrong size"):
        guest.on_message(short.to_wire())
    assert guest.state == "aborted"


def test_unexpected_kind_and_bad_key_abort() -> None:
    p = params()
    host = parties(p, *data(p))[1]
    host.start()
    early = seal(KEYS["bank"], job_id="job-1", protocol=p.protocol, sender="bank", recipient="core", seq=0,
                 kind="residuals", body=bytes(12 * p.ct_bytes))  # fmt: skip
    with pytest.raises(ProtocolAbort, match="before the public key"):
        host.on_message(early.to_wire())
    host = parties(p, *data(p))[1]
    host.start()
    even = seal(KEYS["arbiter"], job_id="job-1", protocol=p.protocol, sender="arbiter", recipient="core", seq=0,
                kind="public_key", body=(1 << 1023).to_bytes(p.pt_bytes, "big"))  # fmt: skip
    with pytest.raises(ProtocolAbort, match="declared key length"):
        host.on_message(even.to_wire())


def test_parameters_reject_leaky_batches() -> None:
    with pytest.raises(ValueError, match="more rows"):
        params(rows=24, batch_size=3)
    with pytest.raises(ValueError, match="labels"):
        p = params()
        xb, xa, y = data(p)
        parties(p, xb, xa, y * 2)
