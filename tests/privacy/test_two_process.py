"""Two-process tests: party nodes and a relay as separate OS processes on localhost ports.

Parties: ``bank`` (direct URL, also uses the relay), ``core`` (direct URL, reached through a proxy in this test
process that can tamper with messages), ``remote`` (relay-only: it makes outbound connections only).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tierflow.domain.documents import uscc_check_char
from tierflow.privacy import node as pn
from tierflow.privacy.messages import canonical_json

PY = sys.executable
SRC = str(Path(__file__).resolve().parents[2] / "src")


def uscc(n: int) -> str:
    first = f"91320500{n:09d}"
    return first + uscc_check_char(first)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BANK_ITEMS = [f"supplier-{i}" for i in range(0, 40)]
CORE_ITEMS = [f"supplier-{i}" for i in range(25, 70)]
BANK_EXPOSURES = {uscc(i): Decimal(1000 * i) for i in range(1, 30)}
CORE_EXPOSURES = {uscc(i): Decimal(f"{700 * i}.25") for i in range(20, 45)}


class TamperProxy:
    """A man in the middle in front of ``core``: forwards, or flips a byte of protocol message bodies."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.tamper = False
        self.tampered = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("content-length", "0")))
                if proxy.tamper and self.path.endswith("/messages"):
                    envelope = json.loads(data)
                    if envelope["protocol"] != pn.CONTROL_PROTOCOL:
                        body = bytearray(base64.b64decode(envelope["body"]))
                        body[0] ^= 1
                        envelope["body"] = base64.b64encode(bytes(body)).decode()
                        data = canonical_json(envelope)
                        proxy.tampered += 1
                response = httpx.post(proxy.upstream + self.path, content=data, timeout=10)
                self.send_response(response.status_code)
                self.send_header("content-length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@dataclass
class Cluster:
    tmp: Path
    config: Path
    urls: dict[str, str]
    keys: dict[str, Any]
    proxy: TamperProxy
    inputs: dict[str, Path] = field(default_factory=dict)

    def start_job(self, party: str, protocol: str, others: list[str], input_path: Path, **params: Any) -> str:
        target = f"{pn.API}/jobs"
        body = json.dumps({"protocol": protocol, "participants": [party, *others], "params": params,
                           "input": str(input_path)}).encode()  # fmt: skip
        headers = {pn.AUTH_HEADER: pn.sign_request(self.keys[party], party, "POST", target, body)}
        response = httpx.post(self.urls[party] + target, content=body, headers=headers, timeout=10)
        assert response.status_code == 201, response.text
        return str(response.json()["job_id"])

    def job(self, party: str, job_id: str, timeout: float = 20) -> dict[str, Any]:
        target = f"{pn.API}/jobs/{job_id}"
        deadline = time.monotonic() + timeout
        while True:
            headers = {pn.AUTH_HEADER: pn.sign_request(self.keys[party], party, "GET", target)}
            record: dict[str, Any] = httpx.get(self.urls[party] + target, headers=headers, timeout=10).json()
            if record["status"] != "running" or time.monotonic() > deadline:
                return record
            time.sleep(0.05)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"process exited early: {log.read_text()}")
        try:
            if httpx.get(f"{url}{pn.API}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not come up: {log.read_text()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("privacy-nodes")
    names = ("bank", "core", "remote")
    keys = {name: pn.load_or_create_key(tmp / name, name) for name in names}
    ports = {name: free_port() for name in (*names, "relay")}
    local = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    proxy = TamperProxy(local["core"])
    directory = {
        "relay": local["relay"],
        "parties": {
            "bank": {"url": local["bank"], "public_key": pn.public_key_b64(keys["bank"])},
            "core": {"url": proxy.url, "public_key": pn.public_key_b64(keys["core"])},
            "remote": {"url": "relay", "public_key": pn.public_key_b64(keys["remote"])},
        },
    }
    config = tmp / "directory.json"
    config.write_text(json.dumps(directory))
    files = {
        "bank_items": "\n".join(BANK_ITEMS),
        "core_items": "\n".join(CORE_ITEMS),
        "bank_exposures": "uscc,exposure\n" + "".join(f"{k},{v}\n" for k, v in BANK_EXPOSURES.items()),
        "core_exposures": "".join(f"{k},{v}\n" for k, v in CORE_EXPOSURES.items()),
    }
    inputs = {}
    for name, text in files.items():
        inputs[name] = tmp / f"{name}.txt"
        inputs[name].write_text(text)
    joins = {
        "bank": [],
        "core": ["psi-one", "psi-both", "shared-suppliers"],
        "remote": ["psi-one", "shared-suppliers"],
    }
    data = {"core": {"psi-one": "core_items", "psi-both": "core_items", "shared-suppliers": "core_exposures"},
            "remote": {"psi-one": "core_items", "shared-suppliers": "core_exposures"}}  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    commands = {
        "relay": [PY, "-m", "tierflow.privacy.cli", "relay", "--config", str(config), "--port", str(ports["relay"])]
    }
    for name in names:
        command = [PY, "-m", "tierflow.privacy.cli", "serve", "--party", name, "--config", str(config),
                   "--port", str(ports[name]), "--data-dir", str(tmp / name), "--job-timeout", "15"]  # fmt: skip
        if name != "core":
            command += ["--relay", local["relay"]]
        for protocol in joins[name]:
            command += ["--input", f"{protocol}={inputs[data[name][protocol]]}"]
        commands[name] = command
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            log = tmp / f"{name}.log"
            processes[name] = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        for name, process in processes.items():
            _wait_healthy(local[name], process, tmp / f"{name}.log", deadline)
        yield Cluster(tmp, config, local, keys, proxy, inputs)
    finally:
        for process in reversed(processes.values()):  # nodes first: their long polls hold the relay open
            process.terminate()
        for process in reversed(processes.values()):
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        proxy.server.shutdown()


def test_psi_direct_via_cli(cluster: Cluster) -> None:
    """``tierflow privacy start`` runs PSI between two node processes over HTTP."""
    command = [PY, "-m", "tierflow.privacy.cli", "start", "psi-one", "--config", str(cluster.config),
               "--party", "bank", "--with", "core", "--input", str(cluster.inputs["bank_items"]),
               "--data-dir", str(cluster.tmp / "bank"), "--max-items", "64", "--timeout", "20"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(command, capture_output=True, timeout=30, env=env, check=False)
    assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
    job = json.loads(done.stdout)
    assert job["status"] == "done"
    assert job["result"]["intersection"] == sorted(set(BANK_ITEMS) & set(CORE_ITEMS))
    core_side = cluster.job("core", job["job_id"])
    assert core_side["status"] == "done" and core_side["result"] is None  # ONE: the responder learns nothing


def test_psi_both_learn_the_intersection(cluster: Cluster) -> None:
    job_id = cluster.start_job("bank", "psi-both", ["core"], cluster.inputs["bank_items"], max_items=64)
    expected = sorted(set(BANK_ITEMS) & set(CORE_ITEMS))
    for party in ("bank", "core"):
        record = cluster.job(party, job_id)
        assert record["status"] == "done", record
        assert record["result"]["intersection"] == expected


def test_shared_suppliers_through_the_relay(cluster: Cluster) -> None:
    """``remote`` is relay-only: every message to it goes through the relay process it polls."""
    job_id = cluster.start_job("bank", "shared-suppliers", ["remote"], cluster.inputs["bank_exposures"], max_items=64)
    record = cluster.job("bank", job_id)
    assert record["status"] == "done", record
    shared = sorted(set(BANK_EXPOSURES) & set(CORE_EXPOSURES))
    result = record["result"]
    assert [row["uscc"] for row in result["shared"]] == shared
    assert [Decimal(row["theirs"]) for row in result["shared"]] == [CORE_EXPOSURES[c] for c in shared]
    assert Decimal(result["overlap"]) == sum(min(BANK_EXPOSURES[c], CORE_EXPOSURES[c]) for c in shared)
    assert cluster.job("remote", job_id)["result"] is None


def test_relay_only_party_can_start_a_job(cluster: Cluster) -> None:
    job_id = cluster.start_job("remote", "psi-one", ["core"], cluster.inputs["bank_items"], max_items=64)
    record = cluster.job("remote", job_id)
    assert record["status"] == "done", record
    assert record["result"]["intersection"] == sorted(set(BANK_ITEMS) & set(CORE_ITEMS))


def test_shared_suppliers_direct(cluster: Cluster) -> None:
    job_id = cluster.start_job("bank", "shared-suppliers", ["core"], cluster.inputs["bank_exposures"], max_items=64)
    record = cluster.job("bank", job_id)
    assert record["status"] == "done", record
    assert record["result"]["count"] == len(set(BANK_EXPOSURES) & set(CORE_EXPOSURES))


def test_tampered_message_aborts_the_job(cluster: Cluster) -> None:
    cluster.proxy.tamper = True
    try:
        job_id = cluster.start_job("bank", "psi-one", ["core"], cluster.inputs["bank_items"], max_items=64)
        core_side = cluster.job("core", job_id)
        bank_side = cluster.job("bank", job_id)
    finally:
        cluster.proxy.tamper = False
    assert cluster.proxy.tampered >= 1
    assert core_side["status"] == "aborted" and "bad signature" in core_side["error"]
    assert bank_side["status"] == "aborted" and "aborted by a peer" in bank_side["error"]
    assert bank_side["result"] is None


def test_unauthenticated_requests_are_refused(cluster: Cluster) -> None:
    body = json.dumps({"protocol": "psi-one", "participants": ["bank", "core"], "input": "x"}).encode()
    assert httpx.post(cluster.urls["bank"] + f"{pn.API}/jobs", content=body, timeout=5).status_code == 401
    target = f"{pn.API}/jobs"
    forged = {pn.AUTH_HEADER: pn.sign_request(cluster.keys["core"], "core", "POST", target, body)}
    response = httpx.post(cluster.urls["bank"] + target, content=body, headers=forged, timeout=5)
    assert response.status_code == 403  # only the bank's own key manages the bank's jobs
    pull = f"{pn.API}/relay/remote?after=-1"
    other = {pn.AUTH_HEADER: pn.sign_request(cluster.keys["bank"], "bank", "GET", pull)}
    assert httpx.get(cluster.urls["relay"] + pull, headers=other, timeout=5).status_code == 403
    assert httpx.get(cluster.urls["relay"] + pull, timeout=5).status_code == 401
    oversized = b"x" * (pn.DEFAULT_MAX_MESSAGE_BYTES + 1)
    assert httpx.post(cluster.urls["bank"] + f"{pn.API}/messages", content=oversized, timeout=10).status_code == 413
