"""Snapshots of the projections, the journal in queue order, and a rebuild of a database from a journal.

``snapshot`` dumps every projection table sorted by primary key, as plain Python values that compare equal
across SQLite and PostgreSQL (binary as ``bytes``), so that a database rebuilt by replaying the journal can
be compared with the original. ``parties.token_hash`` is left out: API tokens are credentials handed out
outside the journal, not state the journal rebuilds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Engine, Table, select

from tierflow.domain.rules import Policy
from tierflow.services.ports import UnitOfWorkFactory
from tierflow.services.replay import ReplayReport, replay_journal
from tierflow.store import schema as t
from tierflow.store import schema_green as g
from tierflow.store.migrate import upgrade
from tierflow.store.repository import SqlUnitOfWorkFactory

PROJECTIONS: tuple[Table, ...] = (
    t.parties,
    t.vouchers,
    t.holdings,
    t.offers,
    t.financings,
    t.settlements,
    t.settlement_payments,
    t.freezes,
    t.documents,
    t.party_usccs,
    t.verifications,
    t.invoice_uses,
    t.financing_cases,
    t.case_steps,
    t.repayments,
    g.green_labels,
    g.sll_terms,
    g.kpi_observations,
)

Snapshot = dict[str, list[tuple[Any, ...]]]

# Columns that are not part of the replayed state.
EXCLUDED: dict[str, frozenset[str]] = {"parties": frozenset({"token_hash"})}


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value


def snapshot(engine: Engine) -> Snapshot:
    """Every projection table's rows (``token_hash`` left out), sorted by primary key."""
    out: Snapshot = {}
    with engine.connect() as conn:
        for table in PROJECTIONS:
            skip = EXCLUDED.get(table.name, frozenset())
            columns = [c for c in table.columns if c.name not in skip]
            stmt = select(*columns).order_by(*table.primary_key.columns)
            out[table.name] = [tuple(_plain(v) for v in row) for row in conn.execute(stmt)]
    return out


def snapshot_diff(left: Snapshot, right: Snapshot) -> list[str]:
    """Human-readable differences between two snapshots (empty when equal)."""
    lines: list[str] = []
    for name in sorted(set(left) | set(right)):
        a, b = left.get(name, []), right.get(name, [])
        if a == b:
            continue
        lines.append(f"{name}: {len(a)} rows vs {len(b)} rows")
        only_a = [r for r in a if r not in b]
        only_b = [r for r in b if r not in a]
        lines.extend(f"  - {r!r}" for r in only_a[:5])
        lines.extend(f"  + {r!r}" for r in only_b[:5])
    return lines


def journal_leaves(engine: Engine) -> list[bytes]:
    """Every journal entry's leaf bytes, in queue (``seq``) order."""
    with engine.connect() as conn:
        rows = conn.execute(select(t.events.c.leaf).order_by(t.events.c.seq))
        return [bytes(row.leaf) for row in rows]


def event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(t.events.c.seq)).all())


def rebuild(engine: Engine, leaves: Iterable[bytes], *, policy: Policy | None = None) -> ReplayReport:
    """Migrates the (empty) database behind ``engine`` and replays ``leaves`` into it."""
    upgrade(engine)
    # The cast: ``SqlUnitOfWork.repo`` is a ``SqlRepository``, which mypy will not match against the port's
    # mutable ``repo: Repository`` attribute (the same holds in the composition root).
    return replay_journal(leaves, cast(UnitOfWorkFactory, SqlUnitOfWorkFactory(engine)), policy=policy)
