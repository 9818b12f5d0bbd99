"""Two-process tests of ``secure-sum``, ``verify-claim`` and ``scope3-sum``: four node processes on localhost
(``core`` and the suppliers ``s1``, ``s2``, ``s3``), started once with ``tierflow.privacy.cli serve`` and reused for
every job; jobs are started with ``tierflow.privacy.cli start`` or the node's signed job endpoint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from tierflow.privacy import node as pn
from tierflow.privacy import protocols, scope3
from tierflow.privacy.node import PROTOCOLS
from tierflow.privacy.secure_sum import plaintext_sum
from tierflow.privacy.verify_claim import Basis, ClaimParams, within_tolerance

PY = sys.executable
SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
NAMES = ("core", "s1", "s2", "s3")
SUPPLIERS = ("s1", "s2", "s3")

VECTORS = {"s1": [5, -7, 1_000_000, 0], "s2": [11, 13, -17, 19], "s3": [0, 0, 999_999, -1]}
VECTOR_FILES = {
    "s1": json.dumps(VECTORS["s1"]),
    "s2": ",".join(str(v) for v in VECTORS["s2"]) + "\n",
    "s3": "# one value a line\n" + "\n".join(str(v) for v in VECTORS["s3"]) + "\n",
}
EMISSIONS = {"s1": "1520.375", "s2": "88.0005", "s3": "12034.9"}  # tCO2e attributable to the core
RECORD = 1_000_000  # held by s2
LR_ROWS, LR_GUEST, LR_HOST = 60, 2, 3


def _logreg_data() -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(7)
    xb, xa = rng.normal(size=(LR_ROWS, LR_GUEST)), rng.normal(size=(LR_ROWS, LR_HOST))
    y = ((xb.sum(axis=1) + xa.sum(axis=1)) > 0).astype(float)
    return xb, xa, y
CLAIM_ACCEPTED, CLAIM_REJECTED = 1_020_000, 1_100_000  # claimed by s1; tolerance 5 % of the claim


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Nodes:
    tmp: Path
    config: Path
    urls: dict[str, str]
    keys: dict[str, Any]
    files: dict[str, Path]

    def cli_start(self, protocol: str, party: str, others: list[str], input_path: Path, **params: Any) -> Any:
        command = [PY, "-m", "tierflow.privacy.cli", "start", protocol, "--config", str(self.config),
                   "--party", party, "--input", str(input_path), "--data-dir", str(self.tmp / party),
                   "--timeout", "20"]  # fmt: skip
        for other in others:
            command += ["--with", other]
        for key, value in params.items():
            command += ["--param", f"{key}={value}"]
        done = subprocess.run(command, capture_output=True, timeout=40, env=ENV, check=False)
        assert done.returncode == 0, done.stderr.decode() + done.stdout.decode()
        return json.loads(done.stdout)

    def start(self, protocol: str, party: str, others: list[str], input_path: Path, **params: Any) -> httpx.Response:
        target = f"{pn.API}/jobs"
        body = json.dumps({"protocol": protocol, "participants": [party, *others], "params": params,
                           "input": str(input_path)}).encode()  # fmt: skip
        headers = {pn.AUTH_HEADER: pn.sign_request(self.keys[party], party, "POST", target, body)}
        return httpx.post(self.urls[party] + target, content=body, headers=headers, timeout=10)

    def job(self, party: str, job_id: str, timeout: float = 20) -> dict[str, Any]:
        target = f"{pn.API}/jobs/{job_id}"
        deadline = time.monotonic() + timeout
        while True:
            headers = {pn.AUTH_HEADER: pn.sign_request(self.keys[party], party, "GET", target)}
            response = httpx.get(self.urls[party] + target, headers=headers, timeout=10)
            if response.status_code == 200:
                record: dict[str, Any] = response.json()
                if record["status"] != "running":
                    return record
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} at {party}: {response.status_code} {response.text}")
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
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    tmp = tmp_path_factory.mktemp("privacy-protocol-nodes")
    keys = {name: pn.load_or_create_key(tmp / name, name) for name in NAMES}
    ports = {name: free_port() for name in NAMES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    directory = {"parties": {name: {"url": urls[name], "public_key": pn.public_key_b64(keys[name])} for name in NAMES}}
    config = tmp / "directory.json"
    config.write_text(json.dumps(directory))
    texts = {"none": ""}  # the aggregator, core enterprise and coordinator have no input: the file is not read
    texts |= {f"vector-{s}": VECTOR_FILES[s] for s in SUPPLIERS}
    texts |= {f"emissions-{s}": f"# tCO2e, Scope 1+2 attributable to core\n{EMISSIONS[s]}\n" for s in SUPPLIERS}
    texts |= {"record": f"{RECORD}\n", "claim-accepted": f"{CLAIM_ACCEPTED}\n", "claim-rejected": f"{CLAIM_REJECTED}\n"}
    xb, xa, y = _logreg_data()
    texts["lr-guest"] = "label,b1,b2\n" + "".join(
        ",".join(repr(float(v)) for v in (label, *row)) + "\n" for label, row in zip(y, xb, strict=True)
    )
    texts["lr-host"] = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in xa)
    files = {name: tmp / f"{name}.txt" for name in texts}
    for name, text in texts.items():
        files[name].write_text(text)
    joins: dict[str, dict[str, str]] = {
        "core": {"secure-sum": "none", "verify-claim": "none", "scope3-sum": "none"},
        **{s: {"secure-sum": f"vector-{s}", "scope3-sum": f"emissions-{s}"} for s in SUPPLIERS},
    }
    joins["s2"]["verify-claim"] = "record"
    joins["core"]["joint-logreg"] = "none"  # the dealer: no data
    joins["s2"]["joint-logreg"] = "lr-host"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in NAMES:
            command = [PY, "-m", "tierflow.privacy.cli", "serve", "--party", name, "--config", str(config),
                       "--port", str(ports[name]), "--data-dir", str(tmp / name), "--job-timeout", "15"]  # fmt: skip
            for protocol, file in joins[name].items():
                command += ["--input", f"{protocol}={files[file]}"]
            log = tmp / f"{name}.log"
            processes[name] = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=ENV)
        deadline = time.monotonic() + 20
        for name, process in processes.items():
            _wait_healthy(urls[name], process, tmp / f"{name}.log", deadline)
        yield Nodes(tmp, config, urls, keys, files)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def test_secure_sum_three_parties_and_an_aggregator_via_cli(nodes: Nodes) -> None:
    """The aggregator starts the job; the three parties join with their input files."""
    job = nodes.cli_start("secure-sum", "core", list(SUPPLIERS), nodes.files["none"], length=4, bound=10**7,
                          min_cohort=3)  # fmt: skip
    expected = plaintext_sum(VECTORS.values())
    assert job["status"] == "done", job
    assert job["result"] == {"role": "aggregator", "total": expected, "contributors": 3, "noised": False}
    for supplier in SUPPLIERS:
        record = nodes.job(supplier, job["job_id"])
        assert record["status"] == "done", record
        assert record["result"]["role"] == "party" and record["result"]["total"] == expected


def test_secure_sum_started_by_a_party_with_noise(nodes: Nodes) -> None:
    """A contributing party starts the job and names the aggregator; discrete Laplace noise is configured."""
    response = nodes.start("secure-sum", "s1", ["core", "s2", "s3"], nodes.files["vector-s1"], aggregator="core",
                           length=4, bound=10**7, min_cohort=3, epsilon="1000", sensitivity=1)  # fmt: skip
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    records = {name: nodes.job(name, job_id) for name in NAMES}
    assert all(r["status"] == "done" for r in records.values()), records
    totals = {json.dumps(r["result"]["total"]) for r in records.values()}
    assert len(totals) == 1 and all(r["result"]["noised"] for r in records.values())
    released = records["core"]["result"]["total"]
    assert all(abs(a - b) < 100 for a, b in zip(released, plaintext_sum(VECTORS.values()), strict=True))


@pytest.mark.parametrize(("claim", "accepted"), [("claim-accepted", True), ("claim-rejected", False)])
def test_verify_claim_claimant_holder_coordinator(nodes: Nodes, claim: str, accepted: bool) -> None:
    """The claimant starts; the holder and the coordinator join. Everyone learns the verdict only."""
    job = nodes.cli_start("verify-claim", "s1", ["s2", "core"], nodes.files[claim], claimant="s1", holder="s2",
                          bits=32, relative="0.05", basis="claim")  # fmt: skip
    value = CLAIM_ACCEPTED if accepted else CLAIM_REJECTED
    params = ClaimParams("plain", "s1", "s2", "core", 32, 0, Fraction(5, 100), Basis.CLAIM)
    assert within_tolerance(params, value, RECORD) is accepted
    assert job["status"] == "done", job
    assert job["result"]["role"] == "claimant" and job["result"]["within_tolerance"] is accepted
    assert job["result"]["tolerance"] == {"absolute": 0, "relative": "1/20", "basis": "claim"}
    for party, role in (("s2", "holder"), ("core", "coordinator")):
        record = nodes.job(party, job["job_id"])
        assert record["status"] == "done", record
        assert record["result"]["role"] == role and record["result"]["within_tolerance"] is accepted


def test_scope3_sum_three_suppliers_and_the_core(nodes: Nodes) -> None:
    job = nodes.cli_start("scope3-sum", "core", list(SUPPLIERS), nodes.files["none"], max_tco2e=100000)
    expected = scope3.plaintext_total_kg(EMISSIONS.values())
    assert expected == 1_520_375 + 88_000 + 12_034_900
    assert job["status"] == "done", job
    result = job["result"]
    assert result["role"] == "core" and result["scope"] == 3 and result["category"] == 1
    assert result["total_kgco2e"] == expected and Decimal(result["total_tco2e"]) == Decimal(expected) / 1000
    assert result["suppliers"] == 3 and result["noised"] is False
    for supplier in SUPPLIERS:
        record = nodes.job(supplier, job["job_id"])
        assert record["status"] == "done", record
        assert record["result"]["role"] == "supplier" and record["result"]["total_kgco2e"] == expected


def test_scope3_below_the_minimum_cohort_releases_nothing(nodes: Nodes) -> None:
    response = nodes.start("scope3-sum", "core", ["s1", "s2"], nodes.files["none"])
    assert response.status_code == 422 and "at least 4" in response.text  # refused before anyone is invited
    response = nodes.start("scope3-sum", "core", list(SUPPLIERS), nodes.files["none"], min_cohort=4)
    assert response.status_code == 201, response.text
    job_id = response.json()["job_id"]
    for name in NAMES:
        record = nodes.job(name, job_id)
        assert record["status"] == "aborted" and record["result"] is None, record
    assert "minimum cohort" in nodes.job("core", job_id)["error"]


def test_a_figure_above_the_declared_bound_aborts_without_revealing_it(nodes: Nodes) -> None:
    response = nodes.start("scope3-sum", "core", list(SUPPLIERS), nodes.files["none"], max_tco2e=10000)
    assert response.status_code == 201, response.text  # s3's 12034.9 t exceeds the public bound of 10000 t
    records = {name: nodes.job(name, response.json()["job_id"]) for name in NAMES}
    assert all(r["status"] == "aborted" and r["result"] is None for r in records.values()), records
    assert all("12034" not in (r["error"] or "") for r in records.values())


# ------------------------------------------------------------------------------------- parameters and inputs


def test_participant_counts() -> None:
    spec = PROTOCOLS[protocols.SCOPE3_SUM]
    assert [n for n in range(8) if spec.accepts(n)] == [4, 5, 6, 7]
    assert spec.describe_count() == "at least 4"
    assert [n for n in range(6) if PROTOCOLS[protocols.VERIFY_CLAIM].accepts(n)] == [3]


def test_integer_inputs() -> None:
    assert protocols.parse_integers("[1, -2, 3]") == [1, -2, 3]
    assert protocols.parse_integers("# header\n1, 2\n3 4\n") == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="base-10 integer") as info:
        protocols.parse_integers("1, 2.5\n")
    assert "2.5" not in str(info.value)
    with pytest.raises(ValueError, match="JSON array of integers"):
        protocols.parse_integers("[1, true]")


def test_joint_logistic_regression_guest_host_and_dealer(nodes: Nodes) -> None:
    """The bank-side guest (labels) starts; the host (features) and the dealer join: each ends with its own weights,
    equal to the plaintext update on the joined data."""
    from tierflow.privacy.logreg_ss import SSLogRegParams, reference

    job = nodes.cli_start("joint-logreg", "s1", ["s2", "core"], nodes.files["lr-guest"], guest="s1", host="s2",
                          rows=LR_ROWS, guest_features=LR_GUEST, host_features=LR_HOST, epochs=3)  # fmt: skip
    assert job["status"] == "done", job
    xb, xa, y = _logreg_data()
    params = SSLogRegParams("plain", "s1", "s2", "core", LR_ROWS, LR_GUEST, LR_HOST, epochs=3)
    w_guest, intercept, w_host = reference(params, xb, xa, y)
    assert max(abs(a - b) for a, b in zip(job["result"]["weights"], w_guest, strict=True)) < 1e-6
    assert abs(job["result"]["intercept"] - intercept) < 1e-6
    host = nodes.job("s2", job["job_id"])
    assert host["status"] == "done", host
    assert max(abs(a - b) for a, b in zip(host["result"]["weights"], w_host, strict=True)) < 1e-6
    dealer = nodes.job("core", job["job_id"])
    assert dealer["status"] == "done" and dealer["result"] is None
