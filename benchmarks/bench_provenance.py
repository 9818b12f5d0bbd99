"""Provenance of one unit through ``QueryService.unit_provenance`` on a large SQLite database.

The tables are filled directly with synthetic but valid rows, shaped like real transfers: each voucher
(face 2,048 units) is split ten times, each time the lowest half offered one tier down (an accepted offer
row for every part) and the upper half kept as live change, so a voucher has 21 holdings and a unit in its
lowest two units sits at tier 11 under a parent chain of 11 holdings. ``events`` gets one row per tier and
one per issue (holdings share them: ``created_event`` is not unique). Then ``--lookups`` random lookups are
timed: units at tier 11 (the 11-tier chain the target is about) and, separately, uniformly random units.
The schema's index on ``offers(holding_id)`` (migration ``0002``) must be present; the run stops otherwise.

    python benchmarks/bench_provenance.py --holdings 10000000
    python benchmarks/bench_provenance.py --holdings 200000 --json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import bench_database, latency_summary, machine, progress, report

from tierflow.bootstrap import open_platform
from tierflow.config import Settings

TIERS = 11
FACE = 1 << TIERS  # 2048 units: ten halvings leave 2 units at tier 11
PER_VOUCHER = 1 + 2 * (TIERS - 1)
SUPPLIERS = 1000
CORES = 20


def pid(kind: str, i: int) -> str:
    return f"pty_{kind}{i:016d}"[:24]


def voucher_rows(v: int) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    vid = f"vch_{v:09d}"
    obligor = pid("c", v % CORES)
    holders = [pid("s", (v * 7 + t * 131) % SUPPLIERS) for t in range(TIERS + 1)]
    voucher = (
        vid,
        obligor,
        holders[1],
        "CNY",
        FACE,
        "2026-01-05",
        "2026-04-05",
        f"PO-{v}",
        json.dumps([f"INV-{v}"]),
        TIERS - 1,
        "active",
        "evt_issue",
    )
    holdings: list[tuple[Any, ...]] = []
    offers: list[tuple[Any, ...]] = []
    start, end = 1, FACE
    parent = None
    current = f"hld_{vid[4:]}_1"
    holdings_tier = 1
    for t in range(1, TIERS):
        mid = (start + end) // 2
        part = f"hld_{vid[4:]}_p{t + 1}"
        change = f"hld_{vid[4:]}_c{t}"
        # the holding at tier t, split (superseded) by the offer that created ``part`` and ``change``
        holdings.append(
            (
                current,
                vid,
                start,
                end,
                holders[t],
                holdings_tier,
                parent,
                "superseded",
                f"evt_tier{t:02d}",
                f"evt_tier{t + 1:02d}",
            )
        )
        holdings.append((change, vid, mid + 1, end, holders[t], t, current, "live", f"evt_tier{t + 1:02d}", None))
        offers.append(
            (
                f"ofr_{vid[4:]}_{t}",
                vid,
                part,
                current,
                holders[t],
                holders[t + 1],
                mid - start + 1,
                f"C-{v}-{t}",
                json.dumps([f"INV-{v}-{t}"]),
                "2026-01-08T09:00:00.000000Z",
                "accepted",
                f"evt_tier{t + 1:02d}",
                f"evt_tier{t + 1:02d}",
            )
        )
        parent, current, holdings_tier, end = current, part, t + 1, mid
    holdings.append((current, vid, start, end, holders[TIERS], TIERS, parent, "live", f"evt_tier{TIERS:02d}", None))
    return voucher, holdings, offers


def batches(vouchers: int, size: int = 2000) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
    for lo in range(0, vouchers, size):
        vs, hs, os_ = [], [], []
        for v in range(lo, min(vouchers, lo + size)):
            voucher, holdings, offers = voucher_rows(v)
            vs.append(voucher)
            hs.extend(holdings)
            os_.extend(offers)
        yield vs, hs, os_


def fill(engine: Any, vouchers: int) -> float:
    raw = engine.raw_connection()
    started = time.perf_counter()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA foreign_keys=OFF")  # rows are valid by construction; checked below
        cur.execute("BEGIN")
        parties = [(pid("c", i), f"Core {i}", "core_enterprise") for i in range(CORES)]
        parties += [(pid("s", i), f"Supplier {i}", "supplier") for i in range(SUPPLIERS)]
        cur.executemany(
            "INSERT INTO parties (id, name, role, public_key, registered_event) VALUES (?, ?, ?, ?, 'evt_reg')",
            [(i, n, r, i.encode().ljust(32, b"\0")[:32]) for i, n, r in parties],
        )
        events = [f"evt_tier{t:02d}" for t in range(1, TIERS + 1)] + ["evt_issue", "evt_reg"]
        cur.executemany(
            "INSERT INTO events (id, kind, actor_id, at, command_digest, leaf) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (e, "transfer.offer", pid("s", 0), "2026-01-05T09:00:00.000000Z", f"{k:064x}", b"{}")
                for k, e in enumerate(events)
            ],
        )
        with progress() as bar:
            task = bar.add_task(f"vouchers ({vouchers * PER_VOUCHER:,} holdings)", total=vouchers)
            for vs, hs, os_ in batches(vouchers):
                cur.executemany(
                    "INSERT INTO vouchers (id, obligor_id, first_holder_id, currency, face_minor, "
                    "issue_date, maturity, contract_ref, invoice_refs, split_count, status, "
                    "issued_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    vs,
                )
                cur.executemany(
                    "INSERT INTO holdings (id, voucher_id, start_unit, end_unit, holder_id, tier, "
                    "parent_id, status, created_event, closed_event) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    hs,
                )
                cur.executemany(
                    "INSERT INTO offers (id, voucher_id, holding_id, source_holding_id, sender_id, "
                    "recipient_id, units, trade_ref, invoice_refs, expires_at, status, "
                    "created_event, resolved_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    os_,
                )
                bar.advance(task, len(vs))
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
        if vouchers <= 50_000:
            bad = cur.execute("PRAGMA foreign_key_check").fetchall()
            assert not bad, f"foreign key violations: {bad[:3]}"
    finally:
        raw.close()
    return time.perf_counter() - started


def offers_holding_index(engine: Any) -> str | None:
    """The schema's index on ``offers(holding_id)``, which the provenance query's join needs."""
    with engine.connect() as conn:
        for row in conn.exec_driver_sql("PRAGMA index_list(offers)").all():
            columns = [c[2] for c in conn.exec_driver_sql(f"PRAGMA index_info('{row[1]}')").all()]
            if columns[:1] == ["holding_id"]:
                return str(row[1])
    return None


def timed(label: str, lookups: list[tuple[str, int]], call: Any, budget: float) -> tuple[list[float], list[int]]:
    times: list[float] = []
    depths: list[int] = []
    deadline = time.perf_counter() + budget
    with progress() as bar:
        task = bar.add_task(label, total=len(lookups))
        for vid, unit in lookups:
            t0 = time.perf_counter()
            result = call(vid, unit)
            times.append(time.perf_counter() - t0)
            depths.append(len(result["chain"]))
            bar.advance(task)
            if t0 > deadline:
                break
    return times, depths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holdings", type=int, default=10_000_000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=120.0, help="stop each timed phase after this many s")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    vouchers = max(1, args.holdings // PER_VOUCHER)
    rng = random.Random(args.seed)

    with bench_database("sqlite") as db:
        p = open_platform(
            Settings(database_url=db.url, data_dir=db.workdir / "var", trade_checks="record"),
            clock=lambda: datetime(2026, 1, 5, 9, tzinfo=UTC),
        )
        holding_index = offers_holding_index(p.engine)
        assert holding_index, "no index on offers(holding_id): run the migrations (0002)"
        fill_seconds = fill(p.engine, vouchers)
        with p.uow() as uow:
            viewer = uow.repo.get_party(p.operator.party_id)
        assert viewer is not None
        # Check one deep chain end to end.
        deep = p.queries.unit_provenance(viewer, "vch_000000000", 1)
        assert [link["tier"] for link in deep["chain"]] == list(range(1, TIERS + 1)), deep["chain"]
        assert len(deep["hops"]) == TIERS

        def call(vid: str, unit: int) -> dict[str, Any]:
            return p.queries.unit_provenance(viewer, vid, unit)

        deep_lookups = [(f"vch_{rng.randrange(vouchers):09d}", rng.randint(1, 2)) for _ in range(args.lookups)]
        any_lookups = [(f"vch_{rng.randrange(vouchers):09d}", rng.randint(1, FACE)) for _ in range(args.lookups)]
        for vid, unit in deep_lookups[:5]:
            call(vid, unit)
        deep_times, deep_depths = timed("unit_provenance, tier-11 units", deep_lookups, call, args.budget)
        any_times, any_depths = timed("unit_provenance, random units", any_lookups, call, args.budget)
        db_bytes = sum(f.stat().st_size for f in Path(db.workdir).glob("bench.db*"))
        p.close()

    deep_lat = latency_summary(deep_times)
    summary = {
        "benchmark": "unit_provenance",
        "db": "sqlite",
        "machine": machine(),
        "holdings": vouchers * PER_VOUCHER,
        "vouchers": vouchers,
        "offers": vouchers * (TIERS - 1),
        "fill_seconds": round(fill_seconds, 1),
        "database_bytes": db_bytes,
        "tier11": {"latency": deep_lat, "chain_length": max(deep_depths)},
        "random_units": {
            "latency": latency_summary(any_times),
            "mean_chain_length": round(sum(any_depths) / len(any_depths), 2),
        },
        "offers_holding_index": holding_index,
        "target_ms": 5.0,
        "target_met": deep_lat["median_ms"] <= 5.0,
    }
    rows = [
        ("holdings / vouchers / offers", f"{vouchers * PER_VOUCHER:,} / {vouchers:,} / {vouchers * 10:,}"),
        ("fill s", summary["fill_seconds"]),
        ("database size MB", round(db_bytes / 1e6)),
        ("tier-11 lookups timed", deep_lat["count"]),
        ("  chain length", max(deep_depths)),
        ("  median / p99 ms", f"{deep_lat['median_ms']} / {deep_lat['p99_ms']}"),
        ("random-unit lookups timed", len(any_times)),
        ("  mean chain length", summary["random_units"]["mean_chain_length"]),
        (
            "  median / p99 ms",
            f"{summary['random_units']['latency']['median_ms']} / {summary['random_units']['latency']['p99_ms']}",
        ),
        ("index on offers(holding_id)", holding_index),
        ("target ≤ 5 ms (median, 11 tiers)", "met" if summary["target_met"] else "NOT met"),
    ]
    report("unit provenance (SQLite)", rows, summary, args.json)


if __name__ == "__main__":
    main()
