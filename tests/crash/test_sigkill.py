"""Crash safety: ``tierflow serve`` killed with SIGKILL while it integrates the journal, again and again.

The server runs as a subprocess with a tiny integration interval and batch, so that the integrator is
always busy. Client threads fire signed transfer offers (each holding spent once: the next offer spends the
change of the previous one) and a recipient accepts offers acknowledged before the last crash; every 201
answer is an acknowledged operation. After a random 0.2-1.5 s the server gets SIGKILL. Then, on the
database exactly as the crash left it, and again after a restart once the integrator has caught up:

* every acknowledged event is in ``events``;
* the integrated leaves are exactly the indexes ``0 .. size-1`` of ``tree_state``, its root is the
  RFC 9162 root recomputed from the leaves, and the stored tree nodes agree with the leaves;
* no checkpoint is larger than the stored tree, each one's root is the root of its first ``size``
  leaves, and its note verifies with the platform key.

The next cycle continues on the same database. At the end ``tierflow export`` and ``tierflow verify``
(subprocesses) must succeed. Runs on SQLite, and on PostgreSQL when ``TIERFLOW_TEST_POSTGRES_URL`` is set
(the ``database_url`` fixture gives it a schema of its own).
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey
from sqlalchemy import Engine, create_engine, event, select

from tierflow.bootstrap import operator_key
from tierflow.client import PartyKey
from tierflow.ledger import merkle
from tierflow.ledger.checkpoint import open_checkpoint
from tierflow.ledger.note import NoteVerifier, verifier_key
from tierflow.store import schema as t

pytestmark = pytest.mark.slow

CYCLES = 8
SENDERS = 6
ORIGIN = "tierflow.example/journal"  # the default TIERFLOW_LOG_ORIGIN
REQUEST_TIMEOUT = httpx.Timeout(10.0, connect=2.0)
START_TIMEOUT = 30.0
CATCH_UP_TIMEOUT = 30.0
TEST_BUDGET = 110.0  # seconds per database, all cycles included
MAX_OFFERS_PER_VOUCHER = 400  # the policy allows 500 splits of one voucher


# --- the server as a subprocess ----------------------------------------------------------------------------


def _cli() -> list[str]:
    return [sys.executable, "-m", "tierflow.cli"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        path = self.log_dir / f"serve-{self.starts}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def start(self) -> None:
        assert self.process is None
        self.starts += 1
        self.port = _free_port()
        log = (self.log_dir / f"serve-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [*_cli(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    if client.get("/v1/journal/key").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.kill()
        pytest.fail(f"the server did not answer within {START_TIMEOUT} s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


# --- the clients -------------------------------------------------------------------------------------------


def _post(client: httpx.Client, path: str, token: str, signed: Any) -> httpx.Response:
    return client.post(
        path,
        json={"command": signed.command, "signature": signed.signature},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
    )


@dataclass
class Member:
    key: PartyKey
    token: str

    @property
    def id(self) -> str:
        return self.key.party_id


@dataclass
class Traffic:
    """What the clients saw: acknowledged event ids, requests cut off by the kill, anything but a 201."""

    acknowledged: set[str] = field(default_factory=set)
    offers: int = 0
    cut_off: int = 0  # requests in flight when the server died: never acknowledged, maybe committed
    open_offers: list[str] = field(default_factory=list)  # acknowledged offers, not yet accepted
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, answer: dict[str, Any]) -> None:
        with self.lock:
            self.acknowledged.add(answer["event_id"])

    def lost_connection(self) -> None:
        with self.lock:
            self.cut_off += 1


def _sender(base_url: str, sender: Member, recipient: Member, holding_id: str, traffic: Traffic,
            killed: threading.Event) -> None:
    body = {"recipient": recipient.id, "amount": "1.00", "currency": "CNY", "trade_ref": "C-crash",
            "invoice_refs": ["INV-crash"]}
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        for _ in range(MAX_OFFERS_PER_VOUCHER):
            signed = sender.key.command("transfer.offer", {**body, "holding_id": holding_id})
            try:
                response = _post(client, "/v1/transfers", sender.token, signed)
            except httpx.TransportError:
                traffic.lost_connection()  # the server is gone: the answer, if any, was never acknowledged
                return
            if response.status_code != 201:
                if not killed.is_set():
                    with traffic.lock:
                        traffic.unexpected.append(f"offer: {response.status_code} {response.text[:300]}")
                return
            answer = response.json()
            traffic.ack(answer)
            with traffic.lock:
                traffic.offers += 1
                traffic.open_offers.append(answer["effects"]["offer_id"])
            holding_id = answer["effects"]["change_holding_id"]
            if holding_id is None:
                return


def _accepter(base_url: str, recipient: Member, offers: list[str], traffic: Traffic,
              killed: threading.Event) -> None:
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        for offer_id in offers:
            signed = recipient.key.command("transfer.accept", {"offer_id": offer_id})
            try:
                response = _post(client, f"/v1/transfers/{offer_id}/accept", recipient.token, signed)
            except httpx.TransportError:
                traffic.lost_connection()
                return
            if response.status_code != 201:
                if not killed.is_set():
                    with traffic.lock:
                        traffic.unexpected.append(f"accept: {response.status_code} {response.text[:300]}")
                return
            traffic.ack(response.json())


def _checked_post(base_url: str, path: str, token: str, signed: Any, traffic: Traffic) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        response = _post(client, path, token, signed)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    if "event_id" in answer:
        traffic.ack(answer)
    return answer


def _register(server: Server, operator_token: str, operator_id: str, name: str, role: str,
              traffic: Traffic) -> Member:
    key = PartyKey.generate()
    answer = _checked_post(server.base_url, "/v1/parties", operator_token,
                           key.registration(name=name, role=role, operator_id=operator_id), traffic)
    return Member(key, answer["token"])


# --- the checks, straight on the database ------------------------------------------------------------------


def _snapshot_engine(url: str) -> Engine:
    """An engine whose transactions see one consistent state while the server may be writing."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # holds the write lock: nothing changes while we read

        return engine
    return create_engine(url, isolation_level="REPEATABLE READ", pool_size=1, max_overflow=0)


@dataclass(frozen=True)
class Observed:
    events: int
    tree_size: int
    pending: int
    checkpoint_size: int


def _check_database(engine: Engine, acknowledged: set[str], verifier: NoteVerifier) -> Observed:
    e, n, s, c = t.events.c, t.tree_nodes.c, t.tree_state.c, t.checkpoints.c
    with engine.begin() as conn:
        stored_ids = set(conn.execute(select(e.id)).scalars())
        state = conn.execute(select(s.size, s.root).where(s.id == 1)).one()
        leaves = conn.execute(
            select(e.leaf_index, e.leaf).where(e.leaf_index.is_not(None)).order_by(e.leaf_index)
        ).all()
        nodes = conn.execute(select(n.level, n.idx, n.hash)).all()
        checkpoints = conn.execute(select(c.size, c.root, c.note).order_by(c.size)).all()

    lost = acknowledged - stored_ids
    assert not lost, f"{len(lost)} acknowledged operations were lost, e.g. {sorted(lost)[:3]}"

    size, root = int(state.size), bytes(state.root)
    assert [int(row.leaf_index) for row in leaves] == list(range(size)), (
        f"integrated leaf indexes are not exactly 0..{size - 1}"
    )

    # Roots recomputed from the leaves alone, at every size a checkpoint names and at the tree size.
    wanted = {int(row.size) for row in checkpoints} | {size}
    builder = merkle.TreeBuilder()
    roots = {0: merkle.EMPTY_ROOT}
    leaf_hashes = []
    for row in leaves:
        leaf_hashes.append(merkle.leaf_hash(bytes(row.leaf)))
        builder.append(leaf_hashes[-1])
        if builder.size in wanted:
            roots[builder.size] = builder.root()
    assert roots[size] == root, f"tree_state root is not the root of its {size} leaves"

    store = merkle.MemoryNodeStore()
    store.put_many((int(r.level), int(r.idx), bytes(r.hash)) for r in nodes)
    level0 = {int(r.idx): bytes(r.hash) for r in nodes if int(r.level) == 0}
    assert sorted(level0) == list(range(size)), "stored leaf nodes do not match the tree size"
    assert all(level0[i] == leaf_hashes[i] for i in range(size)), "a stored leaf node is not its leaf's hash"
    assert merkle.root(size, store) == root, "the stored tree nodes do not give the tree_state root"
    deepest = {int(r.level): int(r.idx) for r in sorted(nodes, key=lambda r: (r.level, r.idx))}
    for level, last in deepest.items():
        assert (last + 1) << level <= size, f"a node at level {level} covers leaves beyond the tree size"

    for row in checkpoints:
        checkpoint_size, checkpoint_root = int(row.size), bytes(row.root)
        assert checkpoint_size <= size, f"checkpoint of size {checkpoint_size} signed beyond stored size {size}"
        assert checkpoint_root == roots[checkpoint_size], f"checkpoint {checkpoint_size} has a wrong root"
        signed = open_checkpoint(row.note, verifier).checkpoint
        assert (signed.origin, signed.size, signed.root) == (ORIGIN, checkpoint_size, checkpoint_root)
    return Observed(
        events=len(stored_ids),
        tree_size=size,
        pending=len(stored_ids) - size,
        checkpoint_size=int(checkpoints[-1].size) if checkpoints else 0,
    )


def _wait_caught_up(server: Server, engine: Engine, verifier: NoteVerifier) -> int:
    """Waits until the restarted server has integrated and signed every stored event; checks the note."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        assert client.get("/v1/journal/key").text.strip() == verifier_key(ORIGIN, verifier.public_key)
        while True:
            with engine.connect() as conn:
                events = conn.execute(select(t.events.c.seq)).all()
            response = client.get("/v1/journal/checkpoint")
            if response.status_code == 200:
                signed = open_checkpoint(response.text, verifier).checkpoint
                assert signed.size == int(response.text.split("\n")[1])
                if signed.size == len(events):
                    return signed.size
            assert time.monotonic() < deadline, "the restarted server did not integrate the backlog in time"
            time.sleep(0.05)


# --- the test ----------------------------------------------------------------------------------------------


@pytest.fixture
def crash_env(database_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], bytes]]:
    seed = hashlib.sha256(b"tierflow crash test " + uuid.uuid4().bytes).digest()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
    env.update(
        TIERFLOW_DATABASE_URL=database_url,
        TIERFLOW_DATA_DIR=str(tmp_path / "var"),
        TIERFLOW_PLATFORM_KEY=base64.b64encode(seed).decode(),
        TIERFLOW_INTEGRATE_INTERVAL_MS="5",
        TIERFLOW_INTEGRATE_BATCH="16",
        TIERFLOW_TRADE_CHECKS="record",  # placeholder trade references: the checks run and record, not refuse
        PYTHONUNBUFFERED="1",
    )
    yield env, seed


def test_sigkill_during_integration_loses_nothing(
    crash_env: tuple[dict[str, str], bytes], database_url: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    env, seed = crash_env
    rng = random.Random()
    verifier = NoteVerifier(ORIGIN, bytes(SigningKey(seed).verify_key))
    operator = operator_key(seed)
    traffic = Traffic()
    server = Server(env, tmp_path)
    engine = _snapshot_engine(database_url)
    history: list[tuple[float, Observed]] = []
    try:
        server.start()
        operator_token = (tmp_path / "var" / "operator.token").read_text().strip()
        core = _register(server, operator_token, operator.party_id, "Core Co", "core_enterprise", traffic)
        recipient = _register(server, operator_token, operator.party_id, "Tier-2 Ltd", "supplier", traffic)
        senders = [
            _register(server, operator_token, operator.party_id, f"Tier-1 Ltd {i}", "supplier", traffic)
            for i in range(SENDERS)
        ]
        maturity = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()

        for _cycle in range(CYCLES):
            assert time.monotonic() - started < TEST_BUDGET, "the crash test ran out of time"
            # A fresh voucher for each sender: every cycle spends new holdings, never a holding twice.
            holdings = []
            for sender in senders:
                answer = _checked_post(server.base_url, "/v1/vouchers", core.token, core.key.command(
                    "voucher.issue",
                    {"first_holder": sender.id, "amount": "100000.00", "currency": "CNY", "maturity": maturity,
                     "contract_ref": "PO-crash", "invoice_refs": ["INV-crash"]},
                ), traffic)
                holdings.append(answer["effects"]["holding_id"])
            with traffic.lock:
                to_accept, traffic.open_offers = traffic.open_offers, []

            killed = threading.Event()
            threads = [
                threading.Thread(target=_sender, args=(server.base_url, s, recipient, h, traffic, killed))
                for s, h in zip(senders, holdings, strict=True)
            ]
            threads.append(threading.Thread(
                target=_accepter, args=(server.base_url, recipient, to_accept, traffic, killed)
            ))
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.2, 1.5))
            killed.set()
            server.kill()
            for thread in threads:
                thread.join(timeout=REQUEST_TIMEOUT.read or 10)
                assert not thread.is_alive(), "a client thread hung after the kill"
            assert not traffic.unexpected, traffic.unexpected[:3]

            # The database exactly as the crash left it.
            at_kill = _check_database(engine, traffic.acknowledged, verifier)
            history.append((time.monotonic() - started, at_kill))

            # Restarted: the backlog gets integrated and signed, and everything still holds.
            server.start()
            _wait_caught_up(server, engine, verifier)
            _check_database(engine, traffic.acknowledged, verifier)

        server.kill()
        # The kills hit live traffic: offers were acknowledged and requests were cut off mid-flight.
        assert traffic.offers >= CYCLES, f"only {traffic.offers} offers acknowledged in {CYCLES} cycles"
        assert traffic.cut_off > 0, "no request was in flight at any kill"
        assert history[-1][1].tree_size > history[0][1].tree_size

        out = tmp_path / "export"
        exported = subprocess.run([*_cli(), "export", "--out", str(out)], env=env, capture_output=True,
                                  timeout=60, stdin=subprocess.DEVNULL)
        assert exported.returncode == 0, exported.stderr.decode(errors="replace")[-3000:]
        verified = subprocess.run([*_cli(), "verify", str(out), "--json"], env=env, capture_output=True,
                                  timeout=60, stdin=subprocess.DEVNULL)
        assert verified.returncode == 0, (verified.stdout + verified.stderr).decode(errors="replace")[-3000:]
        assert b'"ok": true' in verified.stdout
        final = _check_database(engine, traffic.acknowledged, verifier)
        assert final.pending == 0 and final.checkpoint_size == final.tree_size == final.events
    finally:
        server.kill()
        engine.dispose()
    summary = ", ".join(f"{o.events} events/{o.pending} pending" for _, o in history)
    print(f"\ncrash cycles ({time.monotonic() - started:.1f} s, {traffic.offers} offers acknowledged, "
          f"{traffic.cut_off} requests cut off): {summary}")
