"""PSI: outputs equal the plaintext computation; leakage, freshness and abort behaviour over the tapped network."""

from __future__ import annotations

import base64
import hashlib
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from tierflow.privacy import ristretto
from tierflow.privacy.messages import ProtocolAbort, seal
from tierflow.privacy.psi import PsiParams, PsiParty, Role, Variant, normalise, run_in_memory
from tierflow.privacy.transport import InMemoryNetwork

KA, KB = SigningKey.generate(), SigningKey.generate()


def params(variant: Variant, na: int = 8, nb: int = 8, job: str = "job-1") -> PsiParams:
    payload = 16 if variant is Variant.PAYLOAD else 0
    return PsiParams(job, variant, "bank", "supplier", na, nb, max_payload_bytes=payload)


def parties(
    p: PsiParams, xs: set[bytes], ys: set[bytes], payloads: dict[bytes, bytes] | None = None
) -> tuple[PsiParty, PsiParty]:
    a = PsiParty(p, Role.INITIATOR, xs, signing_key=KA, peer_key=KB.verify_key)
    if p.variant is Variant.PAYLOAD:
        payloads = payloads if payloads is not None else {y: hashlib.sha256(y).digest()[: len(y) % 17] for y in ys}
        b = PsiParty(p, Role.RESPONDER, [], signing_key=KB, peer_key=KA.verify_key, payloads=payloads)
    else:
        b = PsiParty(p, Role.RESPONDER, ys, signing_key=KB, peer_key=KA.verify_key)
    return a, b


items = st.sets(st.binary(min_size=0, max_size=12), max_size=8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xs=items, ys=items, variant=st.sampled_from(list(Variant)))
def test_output_equals_plaintext(xs: set[bytes], ys: set[bytes], variant: Variant) -> None:
    a, b = parties(params(variant), xs, ys)
    run_in_memory(a, b)
    common = xs & ys
    assert a.result is not None and a.result.cardinality == len(common)
    if variant is Variant.CARDINALITY:
        assert a.result.intersection is None
    else:
        assert a.result.intersection == common
    if variant is Variant.BOTH:
        assert b.result is not None and b.result.intersection == common
    else:
        assert b.result is None and b.done
    if variant is Variant.PAYLOAD:
        assert a.result.payloads == {y: hashlib.sha256(y).digest()[: len(y) % 17] for y in common}


def test_larger_random_sets_and_string_normalisation() -> None:
    rng = random.Random(7)
    xs = {rng.randbytes(8) for _ in range(300)}
    ys = set(rng.sample(sorted(xs), 120)) | {rng.randbytes(8) for _ in range(150)}
    a, b = parties(params(Variant.BOTH, 300, 300), xs, ys)
    run_in_memory(a, b)
    assert a.result is not None and b.result is not None
    assert a.result.intersection == b.result.intersection == xs & ys
    composed, decomposed = "Caf\u00e9 GmbH", "Cafe\u0301 GmbH"
    a, b = parties(params(Variant.ONE), {composed}, {decomposed.encode("utf-8").decode()})  # type: ignore[arg-type]
    run_in_memory(a, b)
    assert a.result is not None and a.result.intersection == {normalise(composed)}


def _bodies(net: InMemoryNetwork) -> list[bytes]:
    return [base64.b64decode(json.loads(t.data)["body"]) for t in net.tap]


@pytest.mark.parametrize("variant", list(Variant))
def test_no_input_or_plain_hash_in_any_message(variant: Variant) -> None:
    xs = {b"supplier-0001-DE89370400440532013000", b"invoice-77"}
    ys = {b"invoice-77", b"buyer-ACME-0042"}
    a, b = parties(params(variant), xs, ys)
    net = run_in_memory(a, b)
    secrets_ = []
    for item in xs | ys:
        secrets_ += [item, hashlib.sha256(item).digest(), hashlib.sha512(item).digest(), ristretto.hash_to_group(item)]
        secrets_ += [ristretto.expand_message_xmd(item, ristretto.PSI_DST, 64)]
    blobs = [t.data for t in net.tap] + _bodies(net)
    for blob in blobs:
        for secret in secrets_:
            assert secret not in blob
            assert base64.b64encode(secret)[:-4] not in blob


@pytest.mark.parametrize("variant", list(Variant))
def test_message_sizes_depend_only_on_public_parameters(variant: Variant) -> None:
    p = params(variant, 10, 6)
    runs = [(set(), set()), ({b"a"}, {b"a"}), ({bytes([i]) * 40 for i in range(10)}, {b"q" * 3, b"r"})]
    sizes = []
    for xs, ys in runs:
        payloads = {y: y[:16] for y in ys}
        a, b = parties(p, xs, ys, payloads)
        sizes.append([len(t.data) for t in run_in_memory(a, b).tap])
    assert sizes[0] == sizes[1] == sizes[2]


def test_fresh_keys_per_run() -> None:
    xs, ys = {b"same", b"input"}, {b"same"}
    first = _bodies(run_in_memory(*parties(params(Variant.BOTH), xs, ys)))
    second = _bodies(run_in_memory(*parties(params(Variant.BOTH), xs, ys)))
    assert set(first[0][i : i + 32] for i in range(0, len(first[0]), 32)).isdisjoint(
        second[0][i : i + 32] for i in range(0, len(second[0]), 32)
    )


def test_one_variant_sender_never_receives_the_doubled_set() -> None:
    a, b = parties(params(Variant.ONE), {b"x", b"y"}, {b"y"})
    net = run_in_memory(a, b)
    assert [(t.sender, json.loads(t.data)["kind"]) for t in net.tap] == [("bank", "masked"), ("supplier", "reply")]
    assert b.result is None


def _interfere(variant: Variant, interceptor: object) -> tuple[PsiParty, PsiParty, InMemoryNetwork]:
    a, b = parties(params(variant), {b"x", b"y"}, {b"y", b"z"})
    net = InMemoryNetwork(interceptor)  # type: ignore[arg-type]
    return a, b, net


def test_tampered_message_aborts() -> None:
    def flip(sender: str, recipient: str, data: bytes) -> list[bytes]:
        wire = json.loads(data)
        body = bytearray(base64.b64decode(wire["body"]))
        body[5] ^= 1
        wire["body"] = base64.b64encode(bytes(body)).decode()
        return [json.dumps(wire).encode()]

    a, b, net = _interfere(Variant.BOTH, flip)
    with pytest.raises(ProtocolAbort, match="bad signature"):
        run_in_memory(a, b, net)
    assert b.state == "aborted"
    with pytest.raises(ProtocolAbort):
        b.on_message(net.tap[0].data)


def test_replayed_message_aborts() -> None:
    seen: list[bytes] = []

    def replay(sender: str, recipient: str, data: bytes) -> list[bytes]:
        seen.append(data)
        return [seen[0]] if len(seen) == 3 else [data]  # A's "double" is replaced by its first message

    a, b, net = _interfere(Variant.BOTH, replay)
    with pytest.raises(ProtocolAbort, match="replayed"):
        run_in_memory(a, b, net)


def test_reordered_message_aborts() -> None:
    _, b = parties(params(Variant.ONE), {b"x"}, {b"x"})
    early = seal(KA, job_id="job-1", protocol=params(Variant.ONE).protocol, sender="bank", recipient="supplier",
                 seq=1, kind="masked", body=bytes(32 * 8))  # fmt: skip
    b.start()
    with pytest.raises(ProtocolAbort, match="out-of-order"):
        b.on_message(early.to_wire())


def test_wrong_job_and_oversized_abort() -> None:
    p = params(Variant.ONE)
    other, _ = parties(params(Variant.ONE, job="job-2"), {b"x"}, set())
    _, b = parties(p, set(), {b"x"})
    b.start()
    with pytest.raises(ProtocolAbort, match="another job"):
        b.on_message(other.start()[0])
    _, b = parties(p, set(), {b"x"})
    b.start()
    with pytest.raises(ProtocolAbort, match="exceeds"):
        b.on_message(b"{" + b" " * p.max_message_bytes() + b"}")


def test_wrong_declared_size_aborts() -> None:
    small, _ = parties(params(Variant.ONE, na=4), {b"x"}, set())
    _, b = parties(params(Variant.ONE, na=8), set(), {b"x"})
    b.start()
    with pytest.raises(ProtocolAbort, match="wrong size"):
        b.on_message(small.start()[0])


@pytest.mark.parametrize("bad", [ristretto.IDENTITY, bytes.fromhex("01" + "00" * 31)])
def test_identity_or_invalid_points_rejected(bad: bytes) -> None:
    p = params(Variant.BOTH, na=2)
    body = bad + ristretto.hash_to_group(b"other")
    msg = seal(KA, job_id="job-1", protocol=p.protocol, sender="bank", recipient="supplier", seq=0, kind="masked",
               body=body)  # fmt: skip
    _, b = parties(p, set(), {b"x"})
    b.start()
    with pytest.raises(ProtocolAbort, match="identity"):
        b.on_message(msg.to_wire())


def test_declared_maximum_and_payload_limits_enforced() -> None:
    with pytest.raises(ValueError, match="declared maximum"):
        parties(params(Variant.ONE, na=1), {b"x", b"y"}, set())
    with pytest.raises(ValueError, match="max_payload_bytes"):
        parties(params(Variant.PAYLOAD), set(), {b"x"}, {b"x": b"z" * 17})
