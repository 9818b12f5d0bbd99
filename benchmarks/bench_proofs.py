"""Inclusion-proof latency through ``JournalService.inclusion_proof`` on a large tree.

Building millions of real journal entries would take hours, so the tree is synthetic but correct: leaf
``i`` is the bytes ``b"synthetic-leaf-<i>"``; every full-subtree node RFC 9162 storage needs
(``tree_nodes``) is computed bottom-up and bulk-inserted, ``tree_state`` gets the size and root, and a
signed checkpoint is published with ``JournalService.publish_checkpoint()``. A few proofs are checked with
``merkle.verify_inclusion`` (and, up to 2**20 leaves, the root against ``merkle.TreeBuilder``), then
``--proofs`` random proofs are timed one by one through the service.

    python benchmarks/bench_proofs.py --leaves 10000000
    python benchmarks/bench_proofs.py --leaves 100000 --db postgres --json
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import DEFAULT_PG, Timer, bench_database, latency_summary, machine, progress, report
from sqlalchemy import text

from tierflow.bootstrap import open_platform
from tierflow.config import Settings
from tierflow.ledger import merkle

CHUNK_LEVEL = 16  # subtrees of 2**16 leaves are built and inserted at a time


def leaf_data(i: int) -> bytes:
    return b"synthetic-leaf-%d" % i


def _full_subtree_nodes(hashes: list[bytes], level: int, first: int) -> Iterator[list[tuple[int, int, bytes]]]:
    """Levels above ``hashes`` (nodes at ``level`` starting at index ``first``): only full subtrees."""
    sha = hashlib.sha256
    while len(hashes) > 1:
        pairs = len(hashes) // 2
        hashes = [sha(b"\x01" + hashes[2 * k] + hashes[2 * k + 1]).digest() for k in range(pairs)]
        level += 1
        first //= 2
        yield [(level, first + k, h) for k, h in enumerate(hashes)]


def generate(size: int) -> Iterator[list[tuple[int, int, bytes]]]:
    """Every stored node of a tree of ``size`` synthetic leaves, in batches of rows."""
    sha = hashlib.sha256
    span = 1 << CHUNK_LEVEL
    tops: list[bytes] = []  # roots of full 2**CHUNK_LEVEL chunks
    for lo in range(0, size, span):
        hi = min(size, lo + span)
        leaves = [sha(b"\x00" + leaf_data(i)).digest() for i in range(lo, hi)]
        yield [(0, lo + k, h) for k, h in enumerate(leaves)]
        last: list[tuple[int, int, bytes]] = []
        for rows in _full_subtree_nodes(leaves, 0, lo):
            # In a partial chunk, odd tails are not full subtrees: _full_subtree_nodes pairs only whole pairs.
            yield rows
            last = rows
        if hi - lo == span:
            tops.append(last[0][2])
    yield from _full_subtree_nodes(tops, CHUNK_LEVEL, 0)


def count_nodes(size: int) -> int:
    total, level = 0, 0
    while (1 << level) <= size:
        total += size >> level
        level += 1
    return total


def fill(engine: Any, size: int, kind: str) -> float:
    raw = engine.raw_connection()
    total = count_nodes(size)
    started = time.perf_counter()
    try:
        cur = raw.cursor()
        if kind == "sqlite":
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("BEGIN")
        with progress() as bar:
            task = bar.add_task(f"tree_nodes ({size:,} leaves)", total=total)
            if kind == "sqlite":
                for rows in generate(size):
                    cur.executemany("INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)", rows)
                    bar.advance(task, len(rows))
            else:
                with cur.copy("COPY tree_nodes (level, idx, hash) FROM STDIN") as copy:
                    for rows in generate(size):
                        for row in rows:
                            copy.write_row(row)
                        bar.advance(task, len(rows))
        raw.commit()
        if kind == "postgres":
            cur.execute("ANALYZE tree_nodes")
            raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def timed(label: str, indexes: list[int], budget: float, call: Any) -> list[float]:
    """Times ``call(i)`` for each index, stopping early when ``budget`` seconds are spent."""
    times: list[float] = []
    deadline = time.perf_counter() + budget
    with progress() as bar:
        task = bar.add_task(label, total=len(indexes))
        for i in indexes:
            t0 = time.perf_counter()
            call(i)
            times.append(time.perf_counter() - t0)
            bar.advance(task)
            if t0 > deadline:
                break
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaves", type=int, default=10_000_000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--budget",
        type=float,
        default=120.0,
        help="stop timing proofs after this many seconds (the count actually timed is reported)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    size = args.leaves
    rng = random.Random(args.seed)

    with bench_database(args.db, pg_url=args.pg_url) as db:
        settings = Settings(database_url=db.url, data_dir=db.workdir / "var", trade_checks="record")
        p = open_platform(settings)
        fill_seconds = fill(p.engine, size, args.db)
        with p.uow() as uow:
            root = merkle.root(size, uow.tree)
        if size <= 1 << 20:
            builder = merkle.TreeBuilder()
            for i in range(size):
                builder.append(merkle.leaf_hash(leaf_data(i)))
            assert builder.root() == root, "synthetic tree root differs from TreeBuilder"
        with p.engine.begin() as conn:
            conn.execute(text("UPDATE tree_state SET size = :s, root = :r WHERE id = 1"), {"s": size, "r": root})
        checkpoint = p.journal.publish_checkpoint()
        assert checkpoint is not None and checkpoint.size == size

        checked = [0, size - 1, *(rng.randrange(size) for _ in range(8))]
        for i in checked:
            proof = p.journal.inclusion_proof(i, size)
            merkle.verify_inclusion(merkle.leaf_hash(leaf_data(i)), i, size, proof, root)

        indexes = [rng.randrange(size) for _ in range(args.proofs)]
        for i in indexes[:5]:  # warm-up (connection pool, statement cache)
            p.journal.inclusion_proof(i, size)
        times = timed(
            "JournalService.inclusion_proof",
            indexes,
            args.budget,
            lambda i: p.journal.inclusion_proof(i, size),
        )
        with Timer() as keys_only:
            for i in indexes:
                merkle.inclusion_proof_keys(i, size)
        db_bytes = None
        if args.db == "sqlite":
            db_bytes = sum(f.stat().st_size for f in Path(db.workdir).glob("bench.db*"))
        p.close()

    lat = latency_summary(times)
    summary = {
        "benchmark": "inclusion_proofs",
        "db": args.db,
        "machine": machine(),
        "leaves": size,
        "tree_nodes": count_nodes(size),
        "fill_seconds": round(fill_seconds, 1),
        "database_bytes": db_bytes,
        "proofs_verified": len(checked),
        "latency": lat,
        "key_computation_us_per_proof": round(keys_only.elapsed / len(indexes) * 1e6, 2),
        "target_ms": 1.0,
        "target_met": lat["median_ms"] <= 1.0,
    }
    rows = [
        ("database", args.db),
        ("leaves", f"{size:,}"),
        ("tree_nodes rows", f"{count_nodes(size):,}"),
        ("fill (hash + insert) s", summary["fill_seconds"]),
        ("database size MB", round(db_bytes / 1e6) if db_bytes else "-"),
        ("proofs verified (verify_inclusion)", len(checked)),
        ("proofs timed", lat["count"]),
        ("latency median ms", lat["median_ms"]),
        ("latency p90 / p99 / max ms", f"{lat['p90_ms']} / {lat['p99_ms']} / {lat['max_ms']}"),
        ("target ≤ 1 ms (median)", "met" if summary["target_met"] else "NOT met"),
    ]
    report("inclusion proofs", rows, summary, args.json)


if __name__ == "__main__":
    main()
