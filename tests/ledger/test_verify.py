"""End-to-end offline verification of an exported journal."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from tierflow.ledger.canonical import b64d, b64e
from tierflow.ledger.checkpoint import Checkpoint, sign_checkpoint
from tierflow.ledger.cosignature import cosign, cosigner_verifier_key
from tierflow.ledger.envelope import build_leaf, sign_command
from tierflow.ledger.merkle import (
    MemoryNodeStore,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    nodes_to_append,
    root,
)
from tierflow.ledger.note import NoteError, NoteSigner, add_signatures, verifier_key
from tierflow.ledger.verify import verify_consistency_between, verify_export, verify_receipt

ORIGIN = "tierflow.example/journal"
AT = "2024-05-01T12:00:00Z"


@dataclass
class Journal:
    platform: NoteSigner = field(default_factory=lambda: NoteSigner(ORIGIN, SigningKey.generate()))
    witness: SigningKey = field(default_factory=SigningKey.generate)
    leaves: list[bytes] = field(default_factory=list)
    store: MemoryNodeStore = field(default_factory=MemoryNodeStore)

    def append(
        self, kind: str, actor: str, key: SigningKey, body: dict[str, Any], effects: dict[str, Any]
    ) -> None:
        n = len(self.leaves)
        cmd = {"kind": kind, "actor": actor, "nonce": f"n{n}", "issued_at": AT, "body": body}
        leaf = build_leaf(
            event_id=f"e{n}", kind=kind, at=AT, command=cmd, signature=sign_command(cmd, key), effects=effects
        )
        self.store.put_many(nodes_to_append(n, [leaf_hash(leaf)], self.store))
        self.leaves.append(leaf)

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        size = len(self.leaves) if size is None else size
        return Checkpoint(ORIGIN, size, root(size, self.store))

    def note(self, size: int | None = None, cosigned: bool = True) -> str:
        cp = self.checkpoint(size)
        note = sign_checkpoint(cp, self.platform)
        if cosigned:
            note = add_signatures(note, [cosign(cp, "witness.example/w1", self.witness, 1_700_000_000)])
        return note

    def vkey(self) -> str:
        return verifier_key(self.platform.name, self.platform.public_key)

    def export(self, path: Path) -> Path:
        path.mkdir(exist_ok=True)
        lines = [json.dumps({"index": i, "leaf": b64e(leaf)}) + "\n" for i, leaf in enumerate(self.leaves)]
        (path / "journal.jsonl").write_text("".join(lines))
        (path / "checkpoint.txt").write_text(self.note())
        (path / "platform.vkey").write_text(self.vkey() + "\n")
        wkey = cosigner_verifier_key("witness.example/w1", bytes(self.witness.verify_key))
        (path / "witnesses.vkeys").write_text(wkey + "\n")
        return path


def pub(key: SigningKey) -> str:
    return b64e(bytes(key.verify_key))


def make_journal() -> tuple[Journal, dict[str, SigningKey]]:
    j = Journal()
    keys = {"op": SigningKey.generate(), "s1": SigningKey.generate()}
    j.append("party.register", "op", keys["op"], {"public_key": pub(keys["op"])}, {"party_id": "op"})
    j.append("party.register", "op", keys["s1"], {"public_key": pub(keys["s1"])}, {"party_id": "s1"})
    for i in range(5):
        j.append("voucher.issue", "s1", keys["s1"], {"amount": f"{i}00.00"}, {"voucher": f"v{i}"})
    new_key = SigningKey.generate()
    j.append("party.rotate_key", "s1", keys["s1"], {"public_key": pub(new_key)}, {})
    keys["s1"] = new_key
    j.append("voucher.transfer", "s1", keys["s1"], {"to": "op", "units": "1-5"}, {})
    j.append("voucher.transfer", "op", keys["op"], {"to": "s1", "units": "1-2"}, {})
    return j, keys


def rewrite_lines(path: Path, edit: Any) -> None:
    lines = (path / "journal.jsonl").read_text().splitlines(keepends=True)
    (path / "journal.jsonl").write_text("".join(edit(lines)))


def test_valid_export(tmp_path: Path) -> None:
    j, _ = make_journal()
    seen: list[int] = []
    report = verify_export(j.export(tmp_path), on_progress=seen.append)
    assert report.ok, report.problems
    assert report.tree_size == report.entries_checked == len(j.leaves) == 10
    assert report.root_b64 == b64e(root(10, j.store)) == report.computed_root_b64
    assert [(c.name, c.status) for c in report.cosignatures] == [("witness.example/w1", "verified")]
    assert seen[-1] == 10


def test_flipped_byte_in_leaf(tmp_path: Path) -> None:
    j, _ = make_journal()
    path = j.export(tmp_path)

    def flip(lines: list[str]) -> list[str]:
        leaf = bytearray(b64d(json.loads(lines[3])["leaf"]))
        leaf[leaf.index(b"00.00")] ^= 1
        lines[3] = json.dumps({"index": 3, "leaf": b64e(bytes(leaf))}) + "\n"
        return lines

    rewrite_lines(path, flip)
    report = verify_export(path)
    assert not report.ok
    assert any(p.startswith("entry 3:") and "does not verify" in p for p in report.problems)
    assert any("Merkle root" in p for p in report.problems)


def test_dropped_line(tmp_path: Path) -> None:
    j, _ = make_journal()
    path = j.export(tmp_path)
    rewrite_lines(path, lambda lines: lines[:4] + lines[5:])
    report = verify_export(path)
    assert not report.ok
    assert any("entry 4" in p and "index 5, expected 4" in p for p in report.problems)
    assert any("9 entries but the checkpoint covers 10" in p for p in report.problems)


def test_wrong_signature(tmp_path: Path) -> None:
    j, keys = make_journal()
    j.append("voucher.issue", "s1", keys["op"], {"amount": "1.00"}, {})  # signed by the wrong party
    report = verify_export(j.export(tmp_path))
    assert not report.ok
    assert report.problems == ["entry 10: signature does not verify"]


def test_old_key_after_rotation_rejected(tmp_path: Path) -> None:
    j, keys = make_journal()
    report = verify_export(j.export(tmp_path))
    assert report.ok
    old = SigningKey.generate()
    j2 = Journal()
    j2.append("party.register", "op", keys["op"], {"public_key": pub(keys["op"])}, {"party_id": "op"})
    j2.append("party.register", "op", old, {"public_key": pub(old)}, {"party_id": "s1"})
    j2.append("party.rotate_key", "s1", old, {"public_key": pub(keys["s1"])}, {})
    j2.append("voucher.issue", "s1", old, {"amount": "1.00"}, {})
    report = verify_export(j2.export(tmp_path / "j2"))
    assert report.problems == ["entry 3: signature does not verify"]


def test_unregistered_actor(tmp_path: Path) -> None:
    j, _ = make_journal()
    j.append("voucher.issue", "ghost", SigningKey.generate(), {}, {})
    report = verify_export(j.export(tmp_path))
    assert report.problems == ["entry 10: actor 'ghost' is not a registered party"]


def test_checkpoint_of_different_size(tmp_path: Path) -> None:
    j, _ = make_journal()
    path = j.export(tmp_path)
    (path / "checkpoint.txt").write_text(j.note(size=9))
    report = verify_export(path)
    assert not report.ok
    assert report.problems == ["journal has 10 entries but the checkpoint covers 9"]

    (path / "checkpoint.txt").write_text(j.note().replace("\n10\n", "\n11\n"))
    report = verify_export(path)
    assert not report.ok and "does not verify" in report.problems[0]

    j.append("voucher.issue", "s1", SigningKey.generate(), {}, {})
    (path / "checkpoint.txt").write_text(j.note(size=11))
    report = verify_export(path)
    assert "journal has 10 entries but the checkpoint covers 11" in report.problems


def test_signed_checkpoint_with_wrong_root(tmp_path: Path) -> None:
    j, _ = make_journal()
    path = j.export(tmp_path)
    bogus = Checkpoint(ORIGIN, 10, root(9, j.store))
    (path / "checkpoint.txt").write_text(sign_checkpoint(bogus, j.platform))
    report = verify_export(path)
    assert not report.ok
    assert any("does not match the checkpoint root" in p for p in report.problems)


def test_bad_cosignature(tmp_path: Path) -> None:
    j, _ = make_journal()
    path = j.export(tmp_path)
    cp = j.checkpoint()
    forged = cosign(Checkpoint(cp.origin, cp.size, root(3, j.store)), "witness.example/w1", j.witness, 1)
    (path / "checkpoint.txt").write_text(add_signatures(sign_checkpoint(cp, j.platform), [forged]))
    report = verify_export(path)
    assert not report.ok
    assert [c.status for c in report.cosignatures] == ["invalid"]
    assert any("cosignature by witness.example/w1" in p for p in report.problems)

    stranger = cosign(cp, "stranger.example", SigningKey.generate(), 1)
    (path / "checkpoint.txt").write_text(add_signatures(sign_checkpoint(cp, j.platform), [stranger]))
    report = verify_export(path)
    assert report.ok and [c.status for c in report.cosignatures] == ["unknown key"]


def test_wrong_platform_key(tmp_path: Path) -> None:
    j, _ = make_journal()
    path = j.export(tmp_path)
    (path / "platform.vkey").write_text(verifier_key(ORIGIN, bytes(SigningKey.generate().verify_key)))
    report = verify_export(path)
    assert not report.ok and report.problems[0].startswith("checkpoint cannot be verified")


def test_receipts_and_consistency() -> None:
    j, _ = make_journal()
    note = j.note(cosigned=True)
    for i, leaf in enumerate(j.leaves):
        receipt = {
            "index": i,
            "tree_size": 10,
            "leaf": b64e(leaf),
            "proof": [b64e(h) for h in inclusion_proof(i, 10, j.store)],
        }
        entry = verify_receipt(receipt, note, j.vkey())
        assert entry.id == f"e{i}"
    wkey = cosigner_verifier_key("witness.example/w1", bytes(j.witness.verify_key))
    verify_receipt(receipt, note, j.vkey(), witness_vkeys=[wkey], min_cosignatures=1)
    with pytest.raises(NoteError, match="0 valid cosignatures"):
        verify_receipt(receipt, j.note(cosigned=False), j.vkey(), witness_vkeys=[wkey], min_cosignatures=1)
    with pytest.raises(ProofError, match="computed root does not match"):
        verify_receipt({**receipt, "leaf": b64e(j.leaves[0])}, note, j.vkey())
    with pytest.raises(ProofError, match="tree size 9"):
        verify_receipt({**receipt, "tree_size": 9}, note, j.vkey())

    for old in range(0, 11):
        proof = [b64e(h) for h in consistency_proof(old, 10, j.store)] if old else []
        verify_consistency_between(j.note(old), note, proof, j.vkey())
    with pytest.raises(ProofError):
        verify_consistency_between(j.note(4), note, [], j.vkey())


def test_large_export_streams(tmp_path: Path) -> None:
    j, keys = make_journal()
    cmd_key = keys["s1"]
    for i in range(2000):
        j.append("voucher.issue", "s1", cmd_key, {"n": i}, {})
    report = verify_export(j.export(tmp_path))
    assert report.ok and report.entries_checked == 2010
