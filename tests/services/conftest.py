"""Helpers for the service-layer tests: database invariants, and rebuilding a database from its journal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tierflow.store import schema as t
from tierflow.store.engine import make_engine
from tierflow.store.snapshot import journal_leaves, rebuild, snapshot, snapshot_diff


def check_holdings(engine: Engine) -> None:
    """For every voucher: the non-superseded holdings partition ``[1, N]``, and every current holding's
    parent chain ends at the voucher's root holding, each ancestor's range containing the holding's."""
    with engine.connect() as conn:
        vouchers = {r.id: r.face_minor for r in conn.execute(select(t.vouchers.c.id, t.vouchers.c.face_minor))}
        rows = list(conn.execute(select(t.holdings)))
    by_id = {r.id: r for r in rows}
    for voucher_id, face in vouchers.items():
        mine = [r for r in rows if r.voucher_id == voucher_id]
        roots = [r for r in mine if r.parent_id is None]
        assert len(roots) == 1, f"{voucher_id} has {len(roots)} root holdings"
        root = roots[0]
        assert (root.start_unit, root.end_unit, root.tier) == (1, face, 1)
        current = sorted((r for r in mine if r.status != "superseded"), key=lambda r: r.start_unit)
        expected = 1
        for r in current:
            assert r.start_unit == expected, f"{voucher_id}: gap or overlap at unit {expected} ({r.id})"
            expected = r.end_unit + 1
        assert expected == face + 1, f"{voucher_id}: current holdings end at {expected - 1}, face is {face}"
        for r in current:
            node = r
            hops = 0
            while node.parent_id is not None:
                parent = by_id[node.parent_id]
                assert parent.voucher_id == voucher_id
                assert parent.start_unit <= r.start_unit and r.end_unit <= parent.end_unit, (
                    f"{parent.id} does not contain the units of its descendant {r.id}"
                )
                assert parent.status == "superseded" or parent.id == r.id
                node = parent
                hops += 1
                assert hops <= len(mine)
            assert node.id == root.id


def settled_units(engine: Engine) -> set[tuple[str, int, int]]:
    """The (voucher, start, end) of every settled holding (settled is terminal: the set only grows)."""
    h = t.holdings.c
    with engine.connect() as conn:
        rows = conn.execute(select(h.voucher_id, h.start_unit, h.end_unit).where(h.status == "settled"))
        return {(r.voucher_id, r.start_unit, r.end_unit) for r in rows}


def assert_replays_identically(engine: Engine, target_url: str) -> None:
    """Replays every journal entry of ``engine`` (in ``seq`` order) into the empty database at ``target_url``
    and asserts the rebuilt projections equal the original ones."""
    rebuilt = make_engine(target_url)
    try:
        report = rebuild(rebuilt, journal_leaves(engine))
        assert report.ok, report.describe()
        before, after = snapshot(engine), snapshot(rebuilt)
        assert before == after, "\n".join(snapshot_diff(before, after))
    finally:
        rebuilt.dispose()


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'rebuilt.db'}"


Replayer = Callable[[Engine], None]


@pytest.fixture
def replays_identically(fresh_sqlite_url: str) -> Replayer:
    def check(engine: Engine) -> None:
        assert_replays_identically(engine, fresh_sqlite_url)

    return check


def effects(result: dict[str, Any], key: str) -> str:
    value = result[key]
    assert isinstance(value, str)
    return value
