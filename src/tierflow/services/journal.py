"""The journal service: integrate committed events into the Merkle tree, sign checkpoints, serve proofs,
accept witness cosignatures.

Integration is a batch: lock the tree head, take up to N committed events in queue order, give them the
next leaf indexes, store the new full-subtree hashes and the new head, commit. Only then is a checkpoint
signed, from the committed head, so a checkpoint never covers data that is not durable. If the process dies
between the two steps, the next run signs the head it finds. Proofs are served only for sizes up to the
latest published checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tierflow.domain.model import Party, Role
from tierflow.ledger import merkle
from tierflow.ledger.canonical import b64e
from tierflow.ledger.checkpoint import Checkpoint, sign_checkpoint
from tierflow.ledger.cosignature import verify_cosignature
from tierflow.ledger.note import NoteError, NoteSigner, add_signatures, verifier_key
from tierflow.services.errors import CosignatureRejected, NotFound, ProofUnavailable
from tierflow.services.ledger import Clock, rfc3339, utc_now
from tierflow.services.ports import CheckpointRecord, TreeRepository, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class JournalEntry:
    index: int
    event_id: str
    leaf: bytes | None  # None when redacted for the viewer
    leaf_hash: bytes


class JournalService:
    def __init__(self, uow: UnitOfWorkFactory, signer: NoteSigner, *, clock: Clock = utc_now) -> None:
        self._uow = uow
        self.signer = signer
        self._clock = clock

    @property
    def origin(self) -> str:
        return self.signer.name

    def verifier_key(self) -> str:
        return verifier_key(self.signer.name, self.signer.public_key)

    # --- integration ----------------------------------------------------------------------------------

    def integrate(self, batch: int = 1024) -> int:
        """Integrates up to ``batch`` events, then signs a checkpoint for the committed head."""
        with self._uow() as uow:
            size, _ = uow.tree.lock_state()
            pending = uow.tree.pending(batch)
            if pending:
                hashes = [merkle.leaf_hash(p.leaf) for p in pending]
                nodes = merkle.nodes_to_append(size, hashes, uow.tree)
                uow.tree.put_nodes(nodes)
                uow.tree.assign_indexes([p.seq for p in pending], size)
                new_size = size + len(pending)
                uow.tree.set_state(new_size, merkle.root(new_size, uow.tree))
                uow.commit()
        self.publish_checkpoint()
        return len(pending)

    def integrate_all(self, batch: int = 1024) -> int:
        total = 0
        while True:
            done = self.integrate(batch)
            total += done
            if done < batch:
                return total

    def publish_checkpoint(self) -> CheckpointRecord | None:
        """Signs the committed tree head if no checkpoint covers it yet."""
        with self._uow() as uow:
            size, root = uow.tree.lock_state()
            latest = uow.tree.latest_checkpoint()
            if latest is not None and latest.size >= size:
                return latest
            if size == 0:
                return None
            note = sign_checkpoint(Checkpoint(self.origin, size, root), self.signer)
            record = CheckpointRecord(size, root, note, rfc3339(self._clock()))
            uow.tree.add_checkpoint(record)
            uow.commit()
            return record

    # --- reading --------------------------------------------------------------------------------------

    def latest_checkpoint(self) -> str:
        """The latest checkpoint as a signed note, with every witness cosignature appended."""
        with self._uow(read_only=True) as uow:
            latest = uow.tree.latest_checkpoint()
            if latest is None:
                raise NotFound("No checkpoint has been published yet.")
            lines = uow.tree.cosignature_lines(latest.size)
        return add_signatures(latest.note, lines) if lines else latest.note

    def checkpoint_note(self, size: int) -> str:
        with self._uow(read_only=True) as uow:
            record = uow.tree.checkpoint(size)
            if record is None:
                raise NotFound(f"No checkpoint of size {size} was published.", tree_size=size)
            lines = uow.tree.cosignature_lines(size)
        return add_signatures(record.note, lines) if lines else record.note

    @staticmethod
    def _published_size(tree: TreeRepository) -> int:
        latest = tree.latest_checkpoint()
        return 0 if latest is None else latest.size

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        with self._uow(read_only=True) as uow:
            published = self._published_size(uow.tree)
            if not 0 < tree_size <= published:
                raise ProofUnavailable(
                    f"tree_size must be between 1 and the latest checkpoint's size ({published}).",
                    tree_size=tree_size,
                )
            if not 0 <= index < tree_size:
                raise ProofUnavailable(f"index must be below tree_size ({tree_size}).", index=index)
            return merkle.inclusion_proof(index, tree_size, uow.tree)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        with self._uow(read_only=True) as uow:
            published = self._published_size(uow.tree)
            if not 0 < first <= second <= published:
                raise ProofUnavailable(
                    f"Need 0 < first <= second <= {published} (the latest checkpoint's size).",
                    first=first,
                    second=second,
                )
            return merkle.consistency_proof(first, second, uow.tree)

    def entries(self, start: int, end: int, viewer: Party) -> list[JournalEntry]:
        """Entries ``[start, end)`` of the published tree; leaves that do not concern a non-operator viewer
        are redacted to their hash (which still lets the viewer recompute the tree)."""
        with self._uow(read_only=True) as uow:
            published = self._published_size(uow.tree)
            end = min(end, published)
            rows = uow.tree.leaves(start, end) if start < end else []
            visible: set[str] | None = None
            if viewer.role is not Role.OPERATOR:
                visible = uow.tree.concerned([event_id for _, event_id, _ in rows], viewer.id)
        return [
            JournalEntry(
                index,
                event_id,
                leaf if visible is None or event_id in visible else None,
                merkle.leaf_hash(leaf),
            )
            for index, event_id, leaf in rows
        ]

    def receipt(self, event_id: str) -> dict[str, object]:
        """An inclusion receipt for one entry against the latest published checkpoint: everything needed to
        check offline that the entry is in the log (``tierflow verify --receipt`` or any RFC 9162 verifier)."""
        with self._uow(read_only=True) as uow:
            found = uow.tree.leaf_of(event_id)
            latest = uow.tree.latest_checkpoint()
            if found is None or latest is None or found[0] >= latest.size:
                raise NotFound(f"Entry {event_id!r} is not covered by a published checkpoint yet.", event_id=event_id)
            index, leaf = found
            proof = merkle.inclusion_proof(index, latest.size, uow.tree)
            lines = uow.tree.cosignature_lines(latest.size)
        return {
            "event_id": event_id,
            "index": index,
            "tree_size": latest.size,
            "leaf": b64e(leaf),
            "proof": [b64e(h) for h in proof],
            "checkpoint": add_signatures(latest.note, lines) if lines else latest.note,
        }

    # --- witnesses ------------------------------------------------------------------------------------

    def add_cosignature(self, witness: Party, tree_size: int, line: str) -> int:
        """Verifies a witness's tlog-cosignature/v1 line over the published checkpoint of ``tree_size``."""
        with self._uow() as uow:
            record = uow.tree.checkpoint(tree_size)
            if record is None:
                raise NotFound(f"No checkpoint of size {tree_size} was published.", tree_size=tree_size)
            checkpoint = Checkpoint(self.origin, record.size, record.root)
            try:
                timestamp = verify_cosignature(line.rstrip("\n") + "\n", checkpoint, witness.id, witness.public_key)
            except NoteError as error:
                raise CosignatureRejected(f"The cosignature does not verify: {error}.") from None
            now = int(self._clock().timestamp())
            if abs(now - timestamp) > 3600:
                raise CosignatureRejected("The cosignature's timestamp is more than an hour from now.")
            existing = uow.tree.cosignature_lines(tree_size)
            if line.rstrip("\n") + "\n" in existing:
                return timestamp  # the same cosignature again: nothing to do (idempotent)
            if witness.id in _names(existing):
                raise CosignatureRejected("This witness has already cosigned this checkpoint.")
            uow.tree.add_cosignature(tree_size, witness.id, line.rstrip("\n") + "\n", timestamp)
            uow.commit()
            return timestamp


def _names(lines: Sequence[str]) -> set[str]:
    return {line.split(" ")[1] for line in lines if line.count(" ") >= 2}
