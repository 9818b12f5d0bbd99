"""Secret-shared joint logistic regression: outputs equal the plaintext update; leakage over the tap; aborts."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest
from nacl.signing import SigningKey, VerifyKey

from tests.privacy.test_logreg import bodies, data  # the same data and tap reading as the Paillier tests
from tierflow.privacy.logreg import Role
from tierflow.privacy.logreg_ss import (
    SSLogRegParams,
    SSLogRegParty,
    from_ring,
    reference,
    run_in_memory,
    to_ring,
)
from tierflow.privacy.messages import ProtocolAbort
from tierflow.privacy.transport import InMemoryNetwork

KEYS = {p: SigningKey.generate() for p in ("bank", "core", "dealer")}
TOL = 1e-6  # fixed point with 2^-20 resolution: rounding errors of ~2^-21 per feature and residual


def peers(me: str) -> dict[str, VerifyKey]:
    return {p: k.verify_key for p, k in KEYS.items() if p != me}


def params(rows: int = 24, fb: int = 2, fa: int = 3, **kw: object) -> SSLogRegParams:
    defaults: dict[str, object] = {"epochs": 2, "batch_size": 12}
    defaults.update(kw)
    return SSLogRegParams("job-1", "bank", "core", "dealer", rows, fb, fa, **defaults)  # type: ignore[arg-type]


def parties(p: SSLogRegParams, xb: np.ndarray, xa: np.ndarray, y: np.ndarray) -> list[SSLogRegParty]:
    return [
        SSLogRegParty(p, Role.GUEST, signing_key=KEYS["bank"], peer_keys=peers("bank"), features=xb, labels=y),
        SSLogRegParty(p, Role.HOST, signing_key=KEYS["core"], peer_keys=peers("core"), features=xa),
        SSLogRegParty(p, Role.ARBITER, signing_key=KEYS["dealer"], peer_keys=peers("dealer")),
    ]


def test_ring_encoding_round_trips() -> None:
    values = np.array([-3.25, 0.0, 1e-6, 12345.5])
    assert np.abs(from_ring(to_ring(values, 20), 20) - values).max() <= 2.0**-21
    with pytest.raises(ValueError):
        to_ring([2.0**50], 20)


@pytest.mark.parametrize(
    ("kw", "fb"),
    [({}, 2), ({"epochs": 3, "batch_size": 8, "l2": 0.05}, 2), ({"fit_intercept": False, "batch_size": 0}, 1)],
)
def test_training_equals_plaintext_update(kw: dict[str, object], fb: int) -> None:
    p = params(fb=fb, **kw)  # type: ignore[arg-type]
    xb, xa, y = data(p)
    guest, host, dealer = parties(p, xb, xa, y)
    run_in_memory([guest, host, dealer])
    wb, b, wa = reference(p, xb, xa, y)
    assert guest.result is not None and host.result is not None and dealer.result is None
    assert guest.result.weights is not None and host.result.weights is not None
    assert np.abs(guest.result.weights - wb).max() <= TOL
    assert np.abs(host.result.weights - wa).max() <= TOL
    assert p.fit_intercept == (guest.result.intercept is not None)
    if guest.result.intercept is not None:
        assert abs(guest.result.intercept - b) <= TOL
    assert np.abs(wa).max() > 1e-3


def test_training_fits_separable_data() -> None:
    p = params(rows=200, epochs=10, batch_size=50, learning_rate=0.5)
    rng = np.random.default_rng(3)
    xb, xa = rng.normal(size=(200, 2)), rng.normal(size=(200, 3))
    y = ((xb.sum(1) + xa.sum(1)) > 0).astype(float)
    guest, host, _ = ps = parties(p, xb, xa, y)
    run_in_memory(ps)
    assert guest.result is not None and host.result is not None
    assert guest.result.weights is not None and host.result.weights is not None
    z = xb @ guest.result.weights + xa @ host.result.weights + (guest.result.intercept or 0.0)
    assert ((z > 0) == (y == 1)).mean() >= 0.95


def test_no_feature_label_or_weight_in_any_message() -> None:
    p = params()
    xb, xa, y = data(p)
    guest, host, _ = ps = parties(p, xb, xa, y)
    net = run_in_memory(ps)
    assert guest.result is not None and host.result is not None and guest.result.weights is not None
    assert host.result.weights is not None
    secrets_: list[bytes] = []
    for value in [*xb.ravel(), *xa.ravel(), *guest.result.weights, *host.result.weights]:
        secrets_ += [struct.pack("<d", value), struct.pack(">d", value), f"{value:.6f}".encode()]
        secrets_.append(to_ring([value], p.frac_bits).tobytes())
    secrets_.append(y.astype("<u8").tobytes())
    blobs = [t.data for t in net.tap] + bodies(net)
    for secret in secrets_:
        assert not any(secret in blob for blob in blobs)
    # the dealer only sends (boxed) randomness and receives nothing
    assert {(t.sender, json.loads(t.data)["kind"]) for t in net.tap if t.sender == "dealer"} == {("dealer", "triples")}
    assert all(t.recipient != "dealer" for t in net.tap)


def test_message_sizes_depend_only_on_public_parameters() -> None:
    p = params(epochs=2, batch_size=10, rows=25)
    xb, xa, y = data(p)
    runs = [run_in_memory(parties(p, xb * 10.0**s, xa, y)).tap for s in range(2)]
    runs.append(run_in_memory(parties(p, xb * 0, xa * 0, y * 0)).tap)
    shapes = [[(t.sender, t.recipient, json.loads(t.data)["kind"], len(t.data)) for t in tap] for tap in runs]
    assert shapes[0] == shapes[1] == shapes[2]


def test_fresh_randomness_per_run() -> None:
    p = params()
    xb, xa, y = data(p)
    first = bodies(run_in_memory(parties(p, xb, xa, y)))
    second = bodies(run_in_memory(parties(p, xb, xa, y)))
    assert len(first) == len(second)
    assert all(a != b for a, b in zip(first, second, strict=True))


def test_tampered_message_aborts() -> None:
    p = params()
    xb, xa, y = data(p)

    def flip(sender: str, recipient: str, data: bytes) -> list[bytes]:
        if sender == "core" and json.loads(data)["kind"] == "share":
            raw = json.loads(data)
            body = bytearray(base64.b64decode(raw["body"]))
            body[0] ^= 1
            raw["body"] = base64.b64encode(bytes(body)).decode()
            return [json.dumps(raw).encode()]
        return [data]

    ps = parties(p, xb, xa, y)
    with pytest.raises(ProtocolAbort, match="signature"):
        run_in_memory(ps, InMemoryNetwork(flip))
    assert ps[0].state == "aborted"
    with pytest.raises(ProtocolAbort):
        ps[0].on_message(b"{}")


def test_replayed_wrong_size_and_unexpected_messages_abort() -> None:
    p = params()
    xb, xa, y = data(p)
    net = run_in_memory(parties(p, xb, xa, y))
    fresh = parties(p, xb, xa, y)
    for party in fresh:
        party.start()
    triples = next(t.data for t in net.tap if t.recipient == "bank")  # signed for another run's randomness
    fresh[0].on_message(triples)
    with pytest.raises(ProtocolAbort, match="replayed"):
        fresh[0].on_message(triples)
    host = parties(p, xb, xa, y)[1]
    host.start()
    share = next(t.data for t in net.tap if t.sender == "bank" and json.loads(t.data)["kind"] == "share")
    with pytest.raises(ProtocolAbort):
        host.on_message(share)  # out of order: seq and state
    dealer = parties(p, xb, xa, y)[2]
    dealer.start()
    with pytest.raises(ProtocolAbort):
        dealer.on_message(triples)


def test_parameters_reject_leaky_batches_and_bad_precision() -> None:
    with pytest.raises(ValueError):
        params(rows=24, batch_size=3)
    with pytest.raises(ValueError):
        params(frac_bits=40)
    with pytest.raises(ValueError):
        SSLogRegParams("j", "bank", "bank", "dealer", 24, 2, 3)
