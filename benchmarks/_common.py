"""Helpers shared by the benchmark scripts: databases, machine description, statistics, output."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DB = "tierflow_bench"

console = Console(stderr=True)


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "os": platform.platform(),
    }


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "median_ms": round(statistics.median(ms), 4),
        "p90_ms": round(percentile(ms, 90), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "max_ms": round(max(ms), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
    }


def progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def report(title: str, rows: Sequence[tuple[str, Any]], summary: dict[str, Any], as_json: bool) -> None:
    """Prints a readable table (stderr) and, with ``--json``, the summary as JSON on stdout."""
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
        sys.stdout.flush()


@dataclass
class Database:
    url: str
    kind: str  # "sqlite" | "postgres"
    workdir: Path


@contextmanager
def bench_database(
    kind: str, *, pg_url: str = DEFAULT_PG, keep: bool = False, sqlite_path: str | None = None
) -> Iterator[Database]:
    """A fresh database for one run: a SQLite file in a temporary folder, or a schema of its own in the
    ``tierflow_bench`` PostgreSQL database (created when missing; dropped after the run unless ``keep``)."""
    workdir = Path(tempfile.mkdtemp(prefix="tierflow-bench-"))
    try:
        if kind == "sqlite":
            path = Path(sqlite_path) if sqlite_path else workdir / "bench.db"
            yield Database(f"sqlite:///{path}", "sqlite", workdir)
        else:
            with _pg_schema(pg_url, keep) as url:
                yield Database(url, "postgres", workdir)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def _pg_schema(pg_url: str, keep: bool) -> Iterator[str]:
    base = make_url(pg_url)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": BENCH_DB}).first():
            conn.execute(text(f"CREATE DATABASE {BENCH_DB}"))
    admin.dispose()
    bench = base.set(database=BENCH_DB)
    schema = "bench_" + uuid.uuid4().hex[:10]
    engine = create_engine(bench, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = bench.render_as_string(hide_password=False)
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema},public"
    finally:
        if not keep:
            with engine.connect() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.start
