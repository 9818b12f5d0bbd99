"""Signed ``transfer.offer`` operations per second through the service layer (``LedgerService``).

Setup (not timed): parties are registered and one voucher is issued per operation, so that operations do
not all lock one voucher row; every offer command is signed before the clock starts (signing is the
client's cost). Timed: ``submit_batch`` in batches (group commit), by ``--clients`` worker processes each
with its own batches; then, for contrast, single-command ``submit`` (one transaction per operation).
In the same run it measures the machine's Ed25519 verification rate with PyNaCl (one verification per
operation is the upper bound) and reports transfers/s as a percentage of it.

    python benchmarks/bench_transfers.py --db sqlite --n 20000
    python benchmarks/bench_transfers.py --db postgres --clients 8 --n 20000 --json
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import multiprocessing as mp
import pstats
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import DEFAULT_PG, Timer, bench_database, console, machine, percentile, progress, report
from nacl.signing import VerifyKey

from tierflow.bootstrap import open_platform
from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.ledger.envelope import command_signing_bytes, verify_command
from tierflow.services.commands import SignedCommand
from tierflow.services.ledger import Accepted, Submission

SUPPLIERS = 64
FACE = "1000.00"
OFFERED = "100.00"


def _settings(url: str, workdir: Path) -> Settings:
    # Placeholder trade references: the trade checks run on every hop and record their (failing) verdicts.
    return Settings(database_url=url, data_dir=workdir / "var", trade_checks="record")


def _submit_in_batches(ledger: Any, commands: list[SignedCommand], batch: int) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(commands), batch):
        out.extend(ledger.submit_batch([Submission(c) for c in commands[i : i + batch]]))
    return out


def _effects(results: list[Any], what: str) -> list[dict[str, Any]]:
    bad = [r for r in results if not isinstance(r, Accepted)]
    if bad:
        raise SystemExit(f"{what}: {len(bad)} commands failed, first: {bad[0]!r}")
    return [dict(r.effects) for r in results]


def _run_client(
    url: str,
    workdir: str,
    commands: list[SignedCommand],
    batch: int,
    barrier: Any = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """One client: submits its commands in batches of ``batch`` (1: ``submit``, one transaction each)."""
    p = open_platform(_settings(url, Path(workdir)))
    try:
        # Warm the party cache outside the timed part (one read per actor, once per process).
        for actor in {c.actor for c in commands}:
            p.ledger._party(actor)
        if barrier is not None:
            barrier.wait()
        errors: Counter[str] = Counter()
        batch_times: list[float] = []
        prof = cProfile.Profile() if profile else None
        start = time.monotonic()
        if prof:
            prof.enable()
        for i in range(0, len(commands), batch):
            chunk = commands[i : i + batch]
            t0 = time.monotonic()
            if batch == 1:
                try:
                    p.ledger.submit(chunk[0])
                except Exception as error:  # counted, reported
                    errors[type(error).__name__] += 1
            else:
                for r in p.ledger.submit_batch([Submission(c) for c in chunk]):
                    if not isinstance(r, Accepted):
                        errors[type(r).__name__] += 1
            batch_times.append(time.monotonic() - t0)
        end = time.monotonic()
        if prof:
            prof.disable()
            prof.dump_stats(profile)
        return {
            "start": start,
            "end": end,
            "count": len(commands),
            "errors": dict(errors),
            "batch_times": batch_times,
        }
    finally:
        p.close()


def _child(url: str, workdir: str, commands: list[SignedCommand], batch: int, barrier: Any, queue: Any) -> None:
    queue.put(_run_client(url, workdir, commands, batch, barrier))


def run_phase(
    url: str,
    workdir: Path,
    commands: list[SignedCommand],
    batch: int,
    clients: int,
    profile: str | None = None,
) -> dict[str, Any]:
    if clients == 1:
        results = [_run_client(url, str(workdir), commands, batch, profile=profile)]
    else:
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(clients)
        queue = ctx.Queue()
        shares = [commands[i::clients] for i in range(clients)]
        procs = [ctx.Process(target=_child, args=(url, str(workdir), s, batch, barrier, queue)) for s in shares]
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    count = sum(r["count"] for r in results)
    errors: Counter[str] = Counter()
    times: list[float] = []
    for r in results:
        errors.update(r["errors"])
        times.extend(r["batch_times"])
    return {
        "operations": count,
        "clients": clients,
        "batch": batch,
        "seconds": round(end - start, 3),
        "per_second": round(count / (end - start), 1),
        "errors": dict(errors),
        "batch_latency_median_ms": round(percentile(times, 50) * 1000, 2),
        "batch_latency_p99_ms": round(percentile(times, 99) * 1000, 2),
    }


def verify_rate(commands: list[SignedCommand], keys: dict[str, bytes]) -> dict[str, Any]:
    """PyNaCl verifications per second over the very messages the run submits (bytes prepared first),
    and the same through ``verify_command`` (which also canonicalises the command)."""
    prepared = [
        (VerifyKey(keys[c.actor]), command_signing_bytes(c.command), base64.b64decode(c.signature)) for c in commands
    ]
    with Timer() as raw:
        for key, message, signature in prepared:
            key.verify(message, signature)
    with Timer() as full:
        for c in commands:
            verify_command(c.command, c.signature, keys[c.actor])
    return {
        "messages": len(prepared),
        "pynacl_verify_per_second": round(len(prepared) / raw.elapsed, 1),
        "verify_command_per_second": round(len(commands) / full.elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG,
        help="server to use (a database 'tierflow_bench' is created there, and a schema of its own per run)",
    )
    parser.add_argument(
        "--clients", type=int, default=None, help="worker processes (default 1 on SQLite, 8 on PostgreSQL)"
    )
    parser.add_argument("--n", type=int, default=20000, help="transfer.offer operations, batched")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument(
        "--single", type=int, default=2000, help="operations for the single-submit contrast (0 to skip)"
    )
    parser.add_argument("--profile", help="write cProfile stats of the batched phase here (1 client only)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    args = parser.parse_args()
    clients = args.clients or (8 if args.db == "postgres" else 1)
    if args.profile and clients != 1:
        parser.error("--profile needs --clients 1")

    with bench_database(args.db, pg_url=args.pg_url) as db:
        p = open_platform(_settings(db.url, db.workdir))
        now = datetime.now(UTC)
        cores = [PartyKey.generate() for _ in range(max(clients, 1))]
        suppliers = [PartyKey.generate() for _ in range(SUPPLIERS)]
        total = args.n + args.single
        with progress() as bar:
            task = bar.add_task("register parties", total=len(cores) + len(suppliers))
            regs = [
                k.registration(name=f"Core {i}", role="core_enterprise", operator_id=p.operator.party_id)
                for i, k in enumerate(cores)
            ]
            regs += [
                k.registration(name=f"Supplier {i}", role="supplier", operator_id=p.operator.party_id)
                for i, k in enumerate(suppliers)
            ]
            _effects(_submit_in_batches(p.ledger, regs, args.batch), "register")
            bar.advance(task, len(regs))

            maturity = (now + timedelta(days=90)).date().isoformat()
            task = bar.add_task("issue vouchers (setup)", total=total)
            holdings: list[tuple[PartyKey, str]] = []
            issue_seconds = 0.0
            for start in range(0, total, args.batch):
                chunk = []
                for i in range(start, min(total, start + args.batch)):
                    holder = suppliers[i % SUPPLIERS]
                    chunk.append(
                        (
                            holder,
                            cores[i % len(cores)].command(
                                "voucher.issue",
                                {
                                    "first_holder": holder.party_id,
                                    "amount": FACE,
                                    "currency": "CNY",
                                    "maturity": maturity,
                                    "contract_ref": f"PO-{i}",
                                    "invoice_refs": [f"INV-{i}"],
                                },
                            ),
                        )
                    )
                with Timer() as t:
                    effects = _effects(p.ledger.submit_batch([Submission(c) for _, c in chunk]), "issue")
                issue_seconds += t.elapsed
                holdings += [(h, e["holding_id"]) for (h, _), e in zip(chunk, effects, strict=True)]
                bar.advance(task, len(chunk))

            task = bar.add_task("sign offers (client side)", total=total)
            offers: list[SignedCommand] = []
            for i, (holder, holding_id) in enumerate(holdings):
                recipient = suppliers[(i + 1 + i // SUPPLIERS) % SUPPLIERS]
                if recipient is holder:
                    recipient = suppliers[(i + 2) % SUPPLIERS]
                offers.append(
                    holder.command(
                        "transfer.offer",
                        {
                            "holding_id": holding_id,
                            "recipient": recipient.party_id,
                            "amount": OFFERED,
                            "currency": "CNY",
                            "trade_ref": f"C-{i}",
                            "invoice_refs": [f"INV-T{i}"],
                        },
                    )
                )
                if i % 1000 == 0:
                    bar.advance(task, 1000 if i else 1)
            bar.update(task, completed=total)
        keys = {k.party_id: k.public_key for k in cores + suppliers}
        p.close()

        console.print("measuring the Ed25519 verification bound…")
        bound = verify_rate(offers[: args.n], keys)
        console.print(f"timed: {args.n} offers, batches of {args.batch}, {clients} client(s)…")
        batched = run_phase(db.url, db.workdir, offers[: args.n], args.batch, clients, args.profile)
        single = None
        if args.single:
            console.print(f"timed: {args.single} offers, one transaction each, {clients} client(s)…")
            single = run_phase(db.url, db.workdir, offers[args.n :], 1, clients)

    pct = 100 * batched["per_second"] / bound["pynacl_verify_per_second"]
    target = 5000 if args.db == "sqlite" else 3000
    summary = {
        "benchmark": "transfers",
        "db": args.db,
        "machine": machine(),
        "setup_issue_per_second": round(total / issue_seconds, 1),
        "verify": bound,
        "batched": batched,
        "single": single,
        "percent_of_verify_bound": round(pct, 1),
        "target_per_second": target,
        "valid": not batched["errors"] and not (single and single["errors"]),
        "target_met": not batched["errors"] and batched["per_second"] >= target and (args.db != "sqlite" or pct >= 50),
    }
    rows = [
        ("database", args.db),
        ("clients (processes)", clients),
        ("PyNaCl verify/s (bound)", bound["pynacl_verify_per_second"]),
        ("verify_command/s", bound["verify_command_per_second"]),
        (f"offers/s, submit_batch({args.batch})", batched["per_second"]),
        ("  % of verify bound", f"{pct:.1f}%"),
        (
            "  batch latency median / p99 ms",
            f"{batched['batch_latency_median_ms']} / {batched['batch_latency_p99_ms']}",
        ),
        ("  errors", batched["errors"] or "none"),
    ]
    if single:
        rows += [
            ("offers/s, submit (1 tx each)", single["per_second"]),
            (
                "  latency median / p99 ms",
                f"{single['batch_latency_median_ms']} / {single['batch_latency_p99_ms']}",
            ),
            ("  errors", single["errors"] or "none"),
        ]
    rows += [
        ("issue/s during setup (batched, 1 client)", summary["setup_issue_per_second"]),
        (f"target ≥ {target}/s", "met" if summary["target_met"] else "NOT met"),
    ]
    report(f"transfer.offer throughput ({args.db})", rows, summary, args.json)
    failed = sum(batched["errors"].values()) + (sum(single["errors"].values()) if single else 0)
    if failed:
        console.print(f"[red]{failed} commands failed: the figures above are not valid[/red]")
        raise SystemExit(1)
    if args.profile:
        pstats.Stats(args.profile, stream=console.file).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
