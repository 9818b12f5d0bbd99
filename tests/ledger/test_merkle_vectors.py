"""RFC 9162 conformance vectors and round trips against a naive reference implementation."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from tierflow.ledger.canonical import b64d
from tierflow.ledger.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    ProofError,
    TreeBuilder,
    consistency_proof,
    consistency_proof_keys,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_to_append,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "rfc9162"
VECTOR_FILES = sorted(VECTORS.glob("*/**/*.json")) if VECTORS.is_dir() else []
needs_vectors = pytest.mark.skipif(
    not VECTORS.is_dir(), reason=f"RFC 9162 test vectors not found at ../shared/testdata/rfc9162 ({VECTORS})"
)


def _accepts(case: dict[str, Any], kind: str) -> bool:
    try:
        proof = [b64d(p) for p in case["proof"] or []]
        if kind == "inclusion":
            verify_inclusion(
                b64d(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, b64d(case["root"])
            )
        else:
            verify_consistency(case["size1"], case["size2"], proof, b64d(case["root1"]), b64d(case["root2"]))
    except ValueError:  # ProofError, or a field that does not decode
        return False
    return True


@needs_vectors
def test_vector_count() -> None:
    assert len(VECTOR_FILES) == 196


@needs_vectors
@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    kind = path.relative_to(VECTORS).parts[0]
    assert kind in ("inclusion", "consistency")
    assert _accepts(case, kind) is (not case["wantErr"]), case["desc"]


# --------------------------------------------------------------------------- naive reference


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return leaf_hash(d[0])
    k = _k(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path_ref(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path_ref(m, d[:k]), mth(d[k:])]
    return [*path_ref(m - k, d[k:]), mth(d[:k])]


def subproof_ref(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*subproof_ref(m, d[:k], b), mth(d[k:])]
    return [*subproof_ref(m - k, d[k:], False), mth(d[:k])]


def _build(n: int, rng: random.Random) -> tuple[list[bytes], MemoryNodeStore]:
    data = [f"leaf-{i}".encode() for i in range(n)]
    store = MemoryNodeStore()
    size = 0
    while size < n:
        batch = data[size : size + rng.randint(1, 9)]
        store.put_many(nodes_to_append(size, [leaf_hash(x) for x in batch], store))
        size += len(batch)
    return data, store


def test_roots_and_proofs_match_reference() -> None:
    rng = random.Random(9162)
    data, store = _build(300, rng)
    builder = TreeBuilder()
    assert root(0, store) == EMPTY_ROOT == builder.root()
    for n in range(1, 301):
        builder.append(leaf_hash(data[n - 1]))
        expected_root = mth(data[:n])
        assert root(n, store) == expected_root == builder.root()
        if n > 64 and n % 17:
            continue  # exhaustive for small trees, sampled for the rest
        for m in range(n):
            proof = inclusion_proof(m, n, store)
            assert proof == path_ref(m, data[:n])
            verify_inclusion(leaf_hash(data[m]), m, n, proof, expected_root)
        for m in range(1, n + 1):
            cproof = consistency_proof(m, n, store)
            assert cproof == (subproof_ref(m, data[:n], True) if m < n else [])
            verify_consistency(m, n, cproof, mth(data[:m]), expected_root)


def test_random_batches_every_pair() -> None:
    rng = random.Random(7)
    for _ in range(5):
        n = rng.randint(1, 120)
        data, store = _build(n, rng)
        roots = [mth(data[:s]) for s in range(n + 1)]
        for s2 in range(1, n + 1):
            for s1 in range(1, s2 + 1):
                verify_consistency(s1, s2, consistency_proof(s1, s2, store), roots[s1], roots[s2])
            for m in range(s2):
                verify_inclusion(leaf_hash(data[m]), m, s2, inclusion_proof(m, s2, store), roots[s2])


class CountingStore(MemoryNodeStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.calls = 0

    def get_many(self, keys: Any) -> dict[tuple[int, int], bytes]:
        self.calls += 1
        self.reads += len(keys)
        return super().get_many(keys)


def test_reads_are_logarithmic() -> None:
    store = CountingStore()
    size = 0
    for _ in range(40):
        batch = [leaf_hash(bytes([size % 256, size // 256])) for _ in range(50)]
        store.put_many(nodes_to_append(size, batch, store))
        size += len(batch)
    assert store.reads <= 40 * 12
    store.reads = store.calls = 0
    inclusion_proof(1234, 1999, store)
    assert store.calls == 1 and store.reads <= 2 * 11
    store.reads = store.calls = 0
    consistency_proof(777, 1999, store)
    assert store.calls == 1 and store.reads <= 2 * 11
    assert len(consistency_proof_keys(777, 1999)) == store.reads


def test_error_reasons() -> None:
    h = leaf_hash(b"x")
    with pytest.raises(ProofError, match="index 8 out of range for tree size 8"):
        verify_inclusion(h, 8, 8, [], h)
    with pytest.raises(ProofError, match="proof has 0 hashes, expected 3"):
        verify_inclusion(h, 0, 8, [], h)
    with pytest.raises(ProofError, match="computed root does not match"):
        verify_inclusion(h, 0, 2, [h], h)
    with pytest.raises(ProofError, match="old tree size 0"):
        verify_consistency(0, 3, [], EMPTY_ROOT, h)
    with pytest.raises(ProofError, match="32"):
        verify_consistency(1, 2, [h], b"short", h)
