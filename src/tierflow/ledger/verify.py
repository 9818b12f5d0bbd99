"""Offline verification of an exported journal and of single receipts.

An export directory holds ``journal.jsonl`` (``{"index", "leaf"}`` per line, in
order), ``checkpoint.txt`` (the platform-signed checkpoint note, possibly
cosigned), ``platform.vkey`` and optionally ``witnesses.vkeys``.  The verifier
streams the journal once: each leaf is parsed strictly, its signature checked
with ``PartyKeys`` and its hash pushed into a ``TreeBuilder`` (O(log n)
memory), so exports of millions of entries are fine.  Problems are collected as
sentences naming the entry index instead of stopping at the first one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tierflow.ledger.canonical import b64d, b64e
from tierflow.ledger.checkpoint import Checkpoint, SignedCheckpoint, open_checkpoint
from tierflow.ledger.cosignature import CosignatureVerifier, parse_cosigner_verifier_key
from tierflow.ledger.envelope import Entry, EnvelopeError, PartyKeys, parse_leaf
from tierflow.ledger.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    ProofError,
    TreeBuilder,
    consistency_proof,
    leaf_hash,
    nodes_to_append,
    verify_consistency,
    verify_inclusion,
)
from tierflow.ledger.note import NoteError, parse_verifier_key

__all__ = [
    "CosignatureReport",
    "VerificationReport",
    "verify_consistency_between",
    "verify_consistency_from_leaves",
    "verify_export",
    "verify_receipt",
]

MAX_PROBLEMS = 1000
PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class CosignatureReport:
    name: str
    key_id: str
    status: str  # "verified", "unknown key" or "invalid"
    timestamp: int | None


@dataclass
class VerificationReport:
    ok: bool = False
    tree_size: int = 0
    root_b64: str = ""
    entries_checked: int = 0
    cosignatures: list[CosignatureReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    computed_root_b64: str = ""

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("further problems omitted")


def _load_checkpoint(path: Path, report: VerificationReport) -> SignedCheckpoint | None:
    try:
        platform = parse_verifier_key(_read_line(path / "platform.vkey"))
        witnesses = _load_witnesses(path / "witnesses.vkeys")
        signed = open_checkpoint((path / "checkpoint.txt").read_text("utf-8"), platform, witnesses)
    except (OSError, ValueError) as exc:
        report.problem(f"checkpoint cannot be verified: {exc}")
        return None
    report.tree_size = signed.checkpoint.size
    report.root_b64 = b64e(signed.checkpoint.root)
    for cosig in signed.cosignatures:
        report.cosignatures.append(CosignatureReport(cosig.name, cosig.key_id.hex(), cosig.status, cosig.timestamp))
        if cosig.status == "invalid":
            report.problem(f"cosignature by {cosig.name} ({cosig.key_id.hex()}) does not verify")
    return signed


def _read_line(path: Path) -> str:
    lines = [line for line in path.read_text("utf-8").splitlines() if line.strip()]
    if len(lines) != 1:
        raise ValueError(f"{path.name} must contain exactly one key line")
    return lines[0].strip()


def _load_witnesses(path: Path) -> list[CosignatureVerifier]:
    if not path.exists():
        return []
    lines = path.read_text("utf-8").splitlines()
    return [parse_cosigner_verifier_key(line.strip()) for line in lines if line.strip()]


def _journal_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("r", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def _decode_line(line: str) -> tuple[object, bytes]:
    try:
        record = json.loads(line)
        index, leaf = record["index"], record["leaf"]
    except (json.JSONDecodeError, TypeError, KeyError):
        raise EnvelopeError("line is not an {index, leaf} record") from None
    try:
        return index, b64d(leaf)
    except ValueError as exc:
        raise EnvelopeError(f"leaf is not valid base64: {exc}") from None


def _check_entries(
    path: Path, size: int, report: VerificationReport, on_progress: Callable[[int], None] | None
) -> bytes:
    """Stream the journal; return the root over the first ``size`` leaves."""
    tree, keys, checkpoint_root = TreeBuilder(), PartyKeys(), EMPTY_ROOT
    for number, line in _journal_lines(path):
        position = tree.size
        try:
            index, raw = _decode_line(line)
        except EnvelopeError as exc:
            report.problem(f"entry {position} (line {number}): {exc.reason}")
            index, raw = position, line.encode()
        else:
            _check_entry(position, raw, keys, report)
        if index != position or isinstance(index, bool):
            report.problem(f"entry {position} (line {number}) has index {index!r}, expected {position}")
        tree.append(leaf_hash(raw))
        if tree.size == size:
            checkpoint_root = tree.root()
        if on_progress is not None and tree.size % PROGRESS_EVERY == 0:
            on_progress(tree.size)
    report.entries_checked = tree.size
    if on_progress is not None:
        on_progress(tree.size)
    if size >= 0 and tree.size != size:
        report.problem(f"journal has {tree.size} entries but the checkpoint covers {size}")
    return checkpoint_root


def _check_entry(index: int, raw: bytes, keys: PartyKeys, report: VerificationReport) -> None:
    try:
        entry: Entry = parse_leaf(raw)
        keys.apply(entry)
    except EnvelopeError as exc:
        report.problem(f"entry {index}: {exc.reason}")


def verify_export(path: Path, *, on_progress: Callable[[int], None] | None = None) -> VerificationReport:
    """Verify an exported journal directory; never raises for bad content."""
    report = VerificationReport()
    signed = _load_checkpoint(path, report)
    size = signed.checkpoint.size if signed else -1
    try:
        computed = _check_entries(path / "journal.jsonl", size, report, on_progress)
    except (OSError, UnicodeDecodeError) as exc:
        report.problem(f"journal cannot be read: {exc}")
        computed = b""
    if signed is not None and computed:
        report.computed_root_b64 = b64e(computed)
        if report.entries_checked >= signed.checkpoint.size and computed != signed.checkpoint.root:
            report.problem(
                f"Merkle root of entries 0..{size - 1} does not match the checkpoint root "
                f"(computed {b64e(computed)}, checkpoint {report.root_b64})"
            )
    report.ok = not report.problems
    return report


# --------------------------------------------------------------------------- receipts


def _open(note: str, platform_vkey: str, witness_vkeys: Sequence[str], min_cosignatures: int) -> Checkpoint:
    witnesses = [parse_cosigner_verifier_key(v) for v in witness_vkeys]
    signed = open_checkpoint(note, parse_verifier_key(platform_vkey), witnesses)
    verified = len(set(signed.verified_cosigners()))  # a witness counts once, however many lines it added
    if verified < min_cosignatures:
        raise NoteError(f"checkpoint has {verified} valid cosignatures, {min_cosignatures} required")
    return signed.checkpoint


def _hashes(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise ProofError(f"{what} must be a list of base64 hashes")
    try:
        return [b64d(v) for v in values]
    except ValueError as exc:
        raise ProofError(f"{what}: {exc}") from None


def verify_receipt(
    receipt: Mapping[str, Any],
    checkpoint_note: str,
    platform_vkey: str,
    *,
    witness_vkeys: Sequence[str] = (),
    min_cosignatures: int = 0,
) -> Entry:
    """Check an inclusion receipt against a signed checkpoint; return the parsed entry.

    Raises ``NoteError`` (checkpoint), ``ProofError`` (proof) or ``EnvelopeError`` (leaf).
    """
    checkpoint = _open(checkpoint_note, platform_vkey, witness_vkeys, min_cosignatures)
    index, tree_size = receipt.get("index"), receipt.get("tree_size")
    if not isinstance(index, int) or not isinstance(tree_size, int):
        raise ProofError("receipt index and tree_size must be integers")
    if tree_size != checkpoint.size:
        raise ProofError(f"receipt is for tree size {tree_size} but the checkpoint is for {checkpoint.size}")
    leaf = receipt.get("leaf")
    if not isinstance(leaf, str):
        raise ProofError("receipt leaf must be a base64 string")
    try:
        raw = b64d(leaf)
    except ValueError as exc:
        raise ProofError(f"receipt leaf: {exc}") from None
    proof = _hashes(receipt.get("proof"), "receipt proof")
    verify_inclusion(leaf_hash(raw), index, tree_size, proof, checkpoint.root)
    return parse_leaf(raw)


def verify_consistency_between(
    old_note: str, new_note: str, proof: Sequence[str], platform_vkey: str
) -> tuple[Checkpoint, Checkpoint]:
    """Check that ``new_note``'s tree extends ``old_note``'s; an old size of 0 needs an empty proof."""
    old = _open(old_note, platform_vkey, (), 0)
    new = _open(new_note, platform_vkey, (), 0)
    if old.origin != new.origin:
        raise ProofError(f"checkpoints are for different logs ({old.origin!r} and {new.origin!r})")
    hashes = _hashes(list(proof), "consistency proof")
    if old.size == 0:
        if hashes:
            raise ProofError("a consistency proof from an empty tree must be empty")
        if old.root != EMPTY_ROOT:
            raise ProofError("checkpoint of size 0 does not carry the empty-tree root")
        return old, new
    verify_consistency(old.size, new.size, hashes, old.root, new.root)
    return old, new


def verify_consistency_from_leaves(path: Path, old_note: str) -> tuple[Checkpoint, Checkpoint]:
    """Prove, offline, that the exported log extends an older checkpoint someone kept.

    Rebuilds the tree's full-subtree hashes from the exported leaves (two hashes per leaf in memory), derives
    the RFC 9162 consistency proof from the old size to the export's checkpoint, and checks it with the same
    verifier a witness uses; both checkpoints must carry the platform's signature.
    """
    platform_vkey = (path / "platform.vkey").read_text("utf-8").strip()
    new_note = (path / "checkpoint.txt").read_text("utf-8")
    new = _open(new_note, platform_vkey, (), 0)
    old = _open(old_note, platform_vkey, (), 0)
    if old.size > new.size:
        raise ProofError(f"the older checkpoint ({old.size} entries) is larger than the export's ({new.size})")
    nodes = MemoryNodeStore()
    size = 0
    for _, line in _journal_lines(path / "journal.jsonl"):
        if size == new.size:
            break
        _, raw = _decode_line(line)
        nodes.put_many(nodes_to_append(size, [leaf_hash(raw)], nodes))
        size += 1
    if size < new.size:
        raise ProofError(f"the export holds {size} entries; its checkpoint covers {new.size}")
    proof = consistency_proof(old.size, new.size, nodes) if 0 < old.size < new.size else []
    return verify_consistency_between(old_note, new_note, [b64e(h) for h in proof], platform_vkey)
