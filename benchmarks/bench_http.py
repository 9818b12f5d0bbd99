"""Transfers per second through the REST API: ``tierflow serve`` started as a subprocess on loopback,
driven by concurrent ``httpx`` clients (``POST /v1/transfers`` with a pre-signed command, a bearer token
and an ``Idempotency-Key``). Client count and run time are bounded.

Setup (not timed): parties registered, one voucher issued per request and API tokens issued through the
service layer on the same database; every command is signed before the clock starts.

    python benchmarks/bench_http.py --n 5000 --concurrency 32
    python benchmarks/bench_http.py --db postgres --n 5000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _common import DEFAULT_PG, bench_database, console, latency_summary, machine, progress, report

from tierflow.bootstrap import open_platform
from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.services.ledger import Accepted, Submission

SUPPLIERS = 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup(url: str, workdir: Path, n: int) -> tuple[list[tuple[str, dict[str, Any]]], Settings]:
    settings = Settings(database_url=url, data_dir=workdir / "var", trade_checks="record")
    p = open_platform(settings)
    core = PartyKey.generate()
    suppliers = [PartyKey.generate() for _ in range(SUPPLIERS)]
    regs = [core.registration(name="Core", role="core_enterprise", operator_id=p.operator.party_id)]
    regs += [
        k.registration(name=f"S{i}", role="supplier", operator_id=p.operator.party_id) for i, k in enumerate(suppliers)
    ]
    assert all(isinstance(r, Accepted) for r in p.ledger.submit_batch([Submission(c) for c in regs]))
    tokens = {k.party_id: p.access.issue_token(k.party_id) for k in suppliers}
    maturity = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    holdings: list[tuple[PartyKey, str]] = []
    with progress() as bar:
        task = bar.add_task("issue vouchers (setup)", total=n)
        for lo in range(0, n, 256):
            chunk = [
                (
                    suppliers[i % SUPPLIERS],
                    core.command(
                        "voucher.issue",
                        {
                            "first_holder": suppliers[i % SUPPLIERS].party_id,
                            "amount": "1000.00",
                            "currency": "CNY",
                            "maturity": maturity,
                            "contract_ref": f"PO-{i}",
                            "invoice_refs": [f"INV-{i}"],
                        },
                    ),
                )
                for i in range(lo, min(n, lo + 256))
            ]
            results = p.ledger.submit_batch([Submission(c) for _, c in chunk])
            for (holder, _), r in zip(chunk, results, strict=True):
                assert isinstance(r, Accepted), r
                holdings.append((holder, r.effects["holding_id"]))
            bar.advance(task, len(chunk))
    p.close()
    requests = []
    for i, (holder, holding_id) in enumerate(holdings):
        recipient = suppliers[(i + 1) % SUPPLIERS]
        signed = holder.command(
            "transfer.offer",
            {
                "holding_id": holding_id,
                "recipient": recipient.party_id,
                "amount": "100.00",
                "currency": "CNY",
                "trade_ref": f"C-{i}",
                "invoice_refs": [f"INV-T{i}"],
            },
        )
        requests.append((tokens[holder.party_id], {"command": dict(signed.command), "signature": signed.signature}))
    return requests, settings


def start_server(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, TIERFLOW_DATABASE_URL=settings.database_url, TIERFLOW_DATA_DIR=str(settings.data_dir))
    exe = Path(sys.executable).with_name("tierflow")
    handle = log.open("wb")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tierflow serve exited ({proc.returncode}); see {log}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1.0)
            return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("tierflow serve did not answer within 60 s")


def drive(
    port: int, requests: list[tuple[str, dict[str, Any]]], concurrency: int, max_seconds: float
) -> dict[str, Any]:
    lock = threading.Lock()
    cursor = iter(requests)
    codes: Counter[int] = Counter()
    latencies: list[float] = []
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
            while time.monotonic() < deadline:
                with lock:
                    item = next(cursor, None)
                if item is None:
                    return
                token, body = item
                t0 = time.monotonic()
                r = client.post(
                    "/v1/transfers",
                    json=body,
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
                )
                elapsed = time.monotonic() - t0
                with lock:
                    codes[r.status_code] += 1
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.monotonic() - start
    done = sum(codes.values())
    return {
        "requests": done,
        "seconds": round(seconds, 3),
        "status_codes": dict(codes),
        "created_per_second": round(codes.get(201, 0) / seconds, 1),
        "latency": latency_summary(latencies) if latencies else None,
    }


WRK_SCRIPT = """
local lines = {}
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  created, other, sent = 0, 0, 0
end
request = function()
  sent = sent + 1
  local tok, body = lines[((sent - 1) % #lines) + 1]:match("([^\\t]+)\\t(.*)")
  return wrk.format("POST", "/v1/transfers", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tok, ["Idempotency-Key"] = "wrk-" .. sent}, body)
end
response = function(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end
done = function(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); o = o + t:get("other") end
  io.write(string.format("RESULT %d %d %d %.3f %.3f %.3f\\n", c, o, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def drive_wrk(
    port: int, requests: list[tuple[str, dict[str, Any]]], concurrency: int, seconds: float, workdir: Path
) -> dict[str, Any]:
    """Drives the server with wrk (a C load generator, Debian package ``wrk``), one signed command per request.

    The run must end before the pre-signed commands run out (a command accepted once is refused as a replay
    afterwards, and would count as "other"), so ``--n`` must exceed the rate times the duration.
    """
    data = workdir / "requests.tsv"
    data.write_text("".join(f"{token}\t{json.dumps(body)}\n" for token, body in requests))
    script = workdir / "post.lua"
    script.write_text(WRK_SCRIPT)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{int(seconds)}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
            "--",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    created, other, duration_us, p50, p99, worst = line.split()[1:]
    elapsed = int(duration_us) / 1e6
    return {
        "load_generator": "wrk",
        "requests": int(created) + int(other),
        "seconds": round(elapsed, 3),
        "status_codes": {"201": int(created), "other": int(other)},
        "created_per_second": round(int(created) / elapsed, 1),
        "latency": {"median_ms": float(p50), "p99_ms": float(p99), "max_ms": float(worst)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--n", type=int, default=5000, help="requests (one voucher issued for each)")
    parser.add_argument("--concurrency", type=int, default=32, help="client threads (bounded: at most 256)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop sending after this long")
    parser.add_argument(
        "--load-generator",
        choices=["wrk", "httpx"],
        default="wrk" if shutil.which("wrk") else "httpx",
        help="wrk (C, default when installed) or Python httpx threads (which compete with the server for the CPU)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk run length")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    concurrency = max(1, min(args.concurrency, 256))
    with bench_database(args.db, pg_url=args.pg_url) as db:
        requests, settings = setup(db.url, db.workdir, args.n)
        port = free_port()
        log = db.workdir / "serve.log"
        proc = start_server(settings, port, log)
        try:
            console.print(f"timed: {len(requests)} POST /v1/transfers, {concurrency} concurrent clients…")
            if args.load_generator == "wrk":
                result = drive_wrk(port, requests, concurrency, args.seconds, db.workdir)
            else:
                result = drive(port, requests, concurrency, args.max_seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    summary = {
        "benchmark": "http_transfers",
        "db": args.db,
        "machine": machine(),
        "concurrency": concurrency,
        **result,
        "target_per_second": 2000,
        "target_met": result["created_per_second"] >= 2000,
    }
    lat = result["latency"] or {}
    rows = [
        ("database", args.db),
        ("concurrent clients", concurrency),
        ("requests", result["requests"]),
        ("status codes", result["status_codes"]),
        ("201 Created per second", result["created_per_second"]),
        ("latency median / p99 ms", f"{lat.get('median_ms')} / {lat.get('p99_ms')}"),
        ("target ≥ 2000/s", "met" if summary["target_met"] else "NOT met"),
    ]
    report("POST /v1/transfers over HTTP", rows, summary, args.json)


if __name__ == "__main__":
    main()
