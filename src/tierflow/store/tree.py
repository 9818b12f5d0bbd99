"""SQLAlchemy implementation of the ``TreeRepository`` port: Merkle nodes, tree head, checkpoints."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from tierflow.services.ports import CheckpointRecord, PendingEvent
from tierflow.store import schema as t


class SqlTreeRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"

    def lock_state(self) -> tuple[int, bytes]:
        stmt = select(t.tree_state.c.size, t.tree_state.c.root).where(t.tree_state.c.id == 1)
        if self._postgres:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        if row is None:
            raise RuntimeError("The tree state row is missing: run the migrations.")
        return int(row.size), bytes(row.root)

    def set_state(self, size: int, root: bytes) -> None:
        self.conn.execute(update(t.tree_state).where(t.tree_state.c.id == 1).values(size=size, root=root))

    def pending(self, limit: int) -> list[PendingEvent]:
        e = t.events.c
        stmt = select(e.seq, e.leaf).where(e.leaf_index.is_(None)).order_by(e.seq).limit(limit)
        return [PendingEvent(int(r.seq), bytes(r.leaf)) for r in self.conn.execute(stmt)]

    def assign_indexes(self, seqs: Sequence[int], first_index: int) -> None:
        stmt = update(t.events).where(t.events.c.seq == bindparam("b_seq")).values(leaf_index=bindparam("b_index"))
        rows = [{"b_seq": seq, "b_index": first_index + i} for i, seq in enumerate(seqs)]
        self.conn.execute(stmt, rows)

    def put_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        if nodes:
            self.conn.execute(insert(t.tree_nodes), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes])

    def get(self, level: int, index: int) -> bytes:
        return self.get_many([(level, index)])[(level, index)]

    def get_many(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not keys:
            return {}
        n = t.tree_nodes.c
        # An OR of (level, idx) pairs: SQLite answers it from the primary key; a row-value IN list would
        # make it scan the whole table (measured: 4.6 s against 0.7 ms at 10M leaves).
        stmt = select(n.level, n.idx, n.hash).where(or_(*(and_(n.level == lv, n.idx == ix) for lv, ix in set(keys))))
        found = {(int(r.level), int(r.idx)): bytes(r.hash) for r in self.conn.execute(stmt)}
        missing = [k for k in keys if k not in found]
        if missing:
            raise KeyError(f"tree nodes missing: {missing[:3]}")
        return found

    def latest_checkpoint(self) -> CheckpointRecord | None:
        c = t.checkpoints.c
        row = self.conn.execute(select(t.checkpoints).order_by(c.size.desc()).limit(1)).first()
        return CheckpointRecord(int(row.size), bytes(row.root), row.note, row.signed_at) if row else None

    def checkpoint(self, size: int) -> CheckpointRecord | None:
        row = self.conn.execute(select(t.checkpoints).where(t.checkpoints.c.size == size)).first()
        return CheckpointRecord(int(row.size), bytes(row.root), row.note, row.signed_at) if row else None

    def add_checkpoint(self, record: CheckpointRecord) -> None:
        self.conn.execute(
            insert(t.checkpoints).values(
                size=record.size, root=record.root, note=record.note, signed_at=record.signed_at
            )
        )

    def cosignature_lines(self, size: int) -> list[str]:
        c = t.cosignatures.c
        stmt = select(c.line).where(c.checkpoint_size == size).order_by(c.witness_id)
        return list(self.conn.execute(stmt).scalars())

    def add_cosignature(self, size: int, witness_id: str, line: str, timestamp: int) -> None:
        self.conn.execute(
            insert(t.cosignatures).values(checkpoint_size=size, witness_id=witness_id, line=line, timestamp=timestamp)
        )

    def leaves(self, start: int, end: int) -> list[tuple[int, str, bytes]]:
        e = t.events.c
        stmt = (
            select(e.leaf_index, e.id, e.leaf).where(e.leaf_index >= start, e.leaf_index < end).order_by(e.leaf_index)
        )
        return [(int(r.leaf_index), r.id, bytes(r.leaf)) for r in self.conn.execute(stmt)]

    def leaf_of(self, event_id: str) -> tuple[int, bytes] | None:
        e = t.events.c
        row = self.conn.execute(select(e.leaf_index, e.leaf).where(e.id == event_id)).first()
        if row is None or row.leaf_index is None:
            return None
        return int(row.leaf_index), bytes(row.leaf)

    def concerned(self, event_ids: Sequence[str], party_id: str) -> set[str]:
        if not event_ids:
            return set()
        p = t.event_parties.c
        stmt = select(p.event_id).where(p.party_id == party_id, p.event_id.in_(list(event_ids)))
        return set(self.conn.execute(stmt).scalars())
