"""RFC 9162 Merkle tree: hashing, storage-friendly proof generation, verification.

Hashes follow RFC 9162 section 2.1.1: a leaf hash is SHA-256(0x00 || data), an
interior node is SHA-256(0x01 || left || right), and the empty tree hashes to
SHA-256("").

Storage model.  Only *full* (perfect) subtrees are ever stored: node
``(level, index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``,
level 0 holding the leaf hashes.  Once written a full subtree never changes, so
the store is append-only.  Any range that RFC 9162 needs (a tree head, an
element of an inclusion PATH or consistency SUBPROOF) is a possibly partial
subtree whose hash is the right fold of at most log2(n) full subtrees.  Proof
generation therefore works in two steps: pure functions compute the list of
full-subtree keys (``root_keys``, ``inclusion_proof_keys``,
``consistency_proof_keys``), the caller's ``NodeReader`` fetches them all in
one ``get_many`` call (one database query), then the hashes are folded.
Appending reads only the right edge of the existing tree (O(log n) nodes).

Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step, after
checking argument ranges, hash lengths and the expected proof length so that
failures carry a precise reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryNodeStore",
    "NodeKey",
    "NodeReader",
    "ProofError",
    "TreeBuilder",
    "consistency_proof",
    "consistency_proof_keys",
    "inclusion_proof",
    "inclusion_proof_keys",
    "leaf_hash",
    "node_hash",
    "nodes_to_append",
    "root",
    "root_keys",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]
"""``(level, index)`` of a full subtree."""

Range = tuple[int, int]


class ProofError(ValueError):
    """A proof, or the values it is checked against, does not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# --------------------------------------------------------------------------- storage


class NodeReader(Protocol):
    """Read access to stored full-subtree hashes."""

    def get(self, level: int, index: int) -> bytes: ...

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Return every requested node; raise ``KeyError`` if one is missing."""
        ...


class MemoryNodeStore:
    """Dict-backed node store, for tests and offline tools."""

    def __init__(self) -> None:
        self._nodes: dict[NodeKey, bytes] = {}

    def get(self, level: int, index: int) -> bytes:
        return self._nodes[(level, index)]

    def get_many(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        return {key: self._nodes[key] for key in keys}

    def put_many(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        for level, index, value in nodes:
            self._nodes[(level, index)] = value

    def __len__(self) -> int:
        return len(self._nodes)


# --------------------------------------------------------------------------- key computation


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_keys(lo: int, hi: int) -> list[NodeKey]:
    """Full subtrees, left to right, whose right fold is MTH(D[lo:hi])."""
    keys: list[NodeKey] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo:
            level = min(level, (lo & -lo).bit_length() - 1)
        keys.append((level, lo >> level))
        lo += 1 << level
    return keys


def _inclusion_ranges(index: int, size: int) -> list[Range]:
    """Leaf ranges of RFC 9162 PATH(index, D[0:size]), leaf side first."""
    out: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            out.append((mid, hi))
            hi = mid
        else:
            out.append((lo, mid))
            lo = mid
    out.reverse()
    return out


def _consistency_ranges(size1: int, size2: int) -> list[Range]:
    """Leaf ranges of RFC 9162 PROOF(size1, D[0:size2]) = SUBPROOF(size1, D[0:size2], true)."""
    out: list[Range] = []
    lo, hi, complete = 0, size2, True
    while hi != size1:
        mid = lo + _split(hi - lo)
        if size1 <= mid:
            out.append((mid, hi))
            hi = mid
        else:
            out.append((lo, mid))
            lo, complete = mid, False
    if not complete:
        out.append((lo, hi))
    out.reverse()
    return out


def _check_inclusion_args(index: int, size: int) -> None:
    if size <= 0:
        raise ProofError(f"tree size {size} has no leaves")
    if not 0 <= index < size:
        raise ProofError(f"index {index} out of range for tree size {size}")


def _check_consistency_args(size1: int, size2: int) -> None:
    if size1 <= 0:
        raise ProofError(f"old tree size {size1} must be positive")
    if size1 > size2:
        raise ProofError(f"old tree size {size1} is larger than new tree size {size2}")


def root_keys(size: int) -> list[NodeKey]:
    """Full subtrees whose right fold is the tree head of ``size`` leaves (empty for 0)."""
    if size < 0:
        raise ValueError(f"negative tree size {size}")
    return _range_keys(0, size)


def inclusion_proof_keys(index: int, size: int) -> list[NodeKey]:
    """Every full subtree needed to build the inclusion proof of ``index`` in ``size``."""
    _check_inclusion_args(index, size)
    return [key for lo, hi in _inclusion_ranges(index, size) for key in _range_keys(lo, hi)]


def consistency_proof_keys(size1: int, size2: int) -> list[NodeKey]:
    """Every full subtree needed for the consistency proof from ``size1`` to ``size2``."""
    _check_consistency_args(size1, size2)
    if size1 == size2:
        return []
    return [key for lo, hi in _consistency_ranges(size1, size2) for key in _range_keys(lo, hi)]


# --------------------------------------------------------------------------- reading


def _fold(keys: Sequence[NodeKey], nodes: dict[NodeKey, bytes]) -> bytes:
    acc = nodes[keys[-1]]
    for key in reversed(keys[:-1]):
        acc = node_hash(nodes[key], acc)
    return acc


def _fetch(reader: NodeReader, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
    if not keys:
        return {}
    nodes = reader.get_many(keys)
    missing = [key for key in keys if key not in nodes]
    if missing:
        raise KeyError(f"node store lacks nodes {missing[:4]}")
    return nodes


def _fold_ranges(ranges: Sequence[Range], reader: NodeReader) -> list[bytes]:
    per_range = [_range_keys(lo, hi) for lo, hi in ranges]
    nodes = _fetch(reader, [key for keys in per_range for key in keys])
    return [_fold(keys, nodes) for keys in per_range]


def root(size: int, reader: NodeReader) -> bytes:
    """RFC 9162 MTH of the first ``size`` leaves."""
    keys = root_keys(size)
    if not keys:
        return EMPTY_ROOT
    return _fold(keys, _fetch(reader, keys))


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:size])."""
    _check_inclusion_args(index, size)
    return _fold_ranges(_inclusion_ranges(index, size), reader)


def consistency_proof(size1: int, size2: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 PROOF(size1, D[0:size2]); empty when the sizes are equal."""
    _check_consistency_args(size1, size2)
    if size1 == size2:
        return []
    return _fold_ranges(_consistency_ranges(size1, size2), reader)


# --------------------------------------------------------------------------- appending


def nodes_to_append(old_size: int, leaf_hashes: Sequence[bytes], reader: NodeReader) -> list[tuple[int, int, bytes]]:
    """New full-subtree nodes ``(level, index, hash)`` created by appending ``leaf_hashes``.

    Reads only the right edge of the existing tree (one node per set bit of ``old_size``).
    """
    edge = root_keys(old_size)
    existing = _fetch(reader, edge)
    stack = [(level, index, existing[(level, index)]) for level, index in edge]
    out: list[tuple[int, int, bytes]] = []
    for offset, value in enumerate(leaf_hashes):
        if len(value) != HASH_SIZE:
            raise ValueError(f"leaf hash {offset} has {len(value)} bytes, expected {HASH_SIZE}")
        node = (0, old_size + offset, value)
        out.append(node)
        while stack and stack[-1][0] == node[0]:
            level, index, left = stack.pop()
            node = (level + 1, index >> 1, node_hash(left, node[2]))
            out.append(node)
        stack.append(node)
    return out


class TreeBuilder:
    """Streaming tree head computation: O(log n) memory, one hash per node."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def append(self, value: bytes) -> None:
        """Append a leaf *hash*."""
        level, acc = 0, value
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            acc = node_hash(left, acc)
            level += 1
        self._stack.append((level, acc))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            acc = node_hash(left, acc)
        return acc


# --------------------------------------------------------------------------- verification


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has {len(value)} bytes, expected {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes], expected: int) -> None:
    if len(proof) != expected:
        raise ProofError(f"proof has {len(proof)} hashes, expected {expected}")
    for i, value in enumerate(proof):
        _check_hash(f"proof hash {i}", value)


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> None:
    """RFC 9162 section 2.1.3.2; ``leaf`` is the leaf *hash*.  Raises ``ProofError``."""
    _check_inclusion_args(index, size)
    _check_hash("leaf hash", leaf)
    _check_hash("root hash", root_hash)
    _check_proof_hashes(proof, len(_inclusion_ranges(index, size)))
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if r != root_hash:
        raise ProofError("computed root does not match")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 section 2.1.4.2.  Raises ``ProofError``."""
    _check_consistency_args(size1, size2)
    if size1 == size2:
        # RFC 9162 2.1.4.2: equal sizes need an empty proof and identical hashes, nothing more.
        if proof:
            raise ProofError(f"proof has {len(proof)} hashes, expected 0 for equal tree sizes")
        if root1 != root2:
            raise ProofError("tree sizes are equal but the roots differ")
        return
    _check_hash("old root hash", root1)
    _check_hash("new root hash", root2)
    _check_proof_hashes(proof, len(_consistency_ranges(size1, size2)))
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if fr != root1:
        raise ProofError("computed old root does not match")
    if sr != root2:
        raise ProofError("computed new root does not match")
