"""The command line, as a user drives it: demo → export → verify, receipts, consistency, and failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tierflow.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIERFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TIERFLOW_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout


def test_demo_export_verify_receipt_and_consistency(env: Path) -> None:
    code, out = run("demo", "--suppliers", "30", "--steps", "60", "--vouchers", "3", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["vouchers"] >= 3 and summary["parties"]["supplier"] == 30
    assert summary["journal_size"] > 60 and summary["checkpoint_cosignatures"] == 3
    assert (env / "var" / "demo-credentials.json").exists()

    assert summary["trade_documents"] > 0 and summary["refused_by_rules"].get("trade_check_failed", 0) == 0

    # The demo's assets, re-reviewed: every hop is found and judged with reasons; a package file names vouchers.
    code, out = run("review-assets", "--json")
    assert code == 0, out
    review = json.loads(out)
    assert review["hops_by_kind"]["issue"] == summary["vouchers"]
    assert sum(review["outcomes"].values()) == review["hops"]
    for hop in review["failed"]:
        assert hop["failures"] and all(f["reasons"] for f in hop["failures"])
    package = env / "package.txt"
    package.write_text("vch_unknown\n")
    code, out = run("review-assets", "--file", str(package), "--json")
    assert code == 0 and json.loads(out)["missing_vouchers"] == ["vch_unknown"]
    code, out = run("review-assets", "--file", str(env / "nope.txt"))
    assert code != 0

    code, out = run("export", "--out", str(env / "first"), "--json")
    assert code == 0, out
    first_size = json.loads(out)["tree_size"]
    old_checkpoint = env / "old-checkpoint.txt"
    old_checkpoint.write_text((env / "first" / "checkpoint.txt").read_text())

    # The log grows (a second demo is refused on a used database, so use the service layer directly).
    from tierflow.bootstrap import open_platform
    from tierflow.client import PartyKey
    from tierflow.config import Settings

    platform = open_platform(Settings())
    platform.ledger.submit(
        PartyKey.generate().registration(
            name="Late Bank", role="financial_institution", operator_id=platform.operator.party_id
        )
    )
    platform.close()

    code, out = run("export", "--out", str(env / "second"), "--json")
    assert code == 0 and json.loads(out)["tree_size"] == first_size + 1

    code, out = run("verify", str(env / "second"), "--since", str(old_checkpoint), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] and report["tree_size"] == first_size + 1
    assert [c["status"] for c in report["cosignatures"]] == []  # the new checkpoint has no cosigners yet

    first_line = (env / "second" / "journal.jsonl").read_text().splitlines()[5]
    from base64 import b64decode

    event_id = json.loads(b64decode(json.loads(first_line)["leaf"]))["id"]
    code, out = run("receipt", event_id, "--out", str(env / "receipt.json"))
    assert code == 0, out
    code, out = run("verify", str(env / "second"), "--receipt", str(env / "receipt.json"), "--json")
    assert code == 0 and json.loads(out)["ok"]

    # Tampering is caught, with the reason.
    lines = (env / "second" / "journal.jsonl").read_text().splitlines()
    record = json.loads(lines[7])
    leaf = bytearray(b64decode(record["leaf"]))
    leaf[-3] ^= 1
    record["leaf"] = __import__("base64").b64encode(bytes(leaf)).decode()
    lines[7] = json.dumps(record)
    (env / "second" / "journal.jsonl").write_text("\n".join(lines) + "\n")
    code, out = run("verify", str(env / "second"), "--json")
    assert code == 1
    problems = json.loads(out)["problems"]
    assert any("entry 7" in p for p in problems) and any("Merkle root" in p for p in problems)


def test_helpful_failures(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _ = run("verify", str(env / "nowhere"))
    assert code == 2
    code, _ = run("receipt", "evt_unknown")
    assert code == 2
    monkeypatch.setenv("TIERFLOW_DATABASE_URL", "nosuchdb://x")
    code, _ = run("export")
    assert code == 2


def test_admin_creates_portal_users_and_takes_custody(env: Path) -> None:
    code, out = run("demo", "--suppliers", "22", "--steps", "10", "--vouchers", "1", "--json")
    assert code == 0, out
    credentials = json.loads((env / "var" / "demo-credentials.json").read_text())
    bank = next(c for c in credentials if c["role"] == "financial_institution")
    logins = json.loads((env / "var" / "demo-logins.json").read_text())
    assert {login["username"] for login in logins} >= {"core.clerk", "supplier1", "bank.officer", "auditor"}

    result = runner.invoke(
        app, ["admin", "user", "credit.two", "--party", bank["party_id"], "--name", "Second Officer", "--json"],
        input="a-long-enough-password\n",
    )
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["role"] == "member"
    again = runner.invoke(app, ["admin", "user", "credit.two", "--party", bank["party_id"], "--name", "X"],
                          input="a-long-enough-password\n")
    assert again.exit_code == 2 and "taken" in again.stderr
    short = runner.invoke(app, ["admin", "user", "credit.three", "--party", bank["party_id"], "--name", "X"],
                          input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.stderr

    seed_file = env / "bank.seed"
    seed_file.write_text(bank["signing_seed"] + "\n")
    result = runner.invoke(app, ["admin", "custody", bank["party_id"], "--seed-file", str(seed_file)])
    assert result.exit_code == 0, result.stderr
    wrong = env / "wrong.seed"
    wrong.write_text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    result = runner.invoke(app, ["admin", "custody", bank["party_id"], "--seed-file", str(wrong)])
    assert result.exit_code == 2 and "not the registered key" in result.stderr
    garbage = env / "garbage.seed"
    garbage.write_text("not base64!\n")
    result = runner.invoke(app, ["admin", "custody", bank["party_id"], "--seed-file", str(garbage)])
    assert result.exit_code == 2 and "base64" in result.stderr


def test_esg_report_in_every_format(env: Path, tmp_path: Path) -> None:
    code, out = run("esg", "report", "--example", "--format", "json")
    assert code == 0, out
    rows = {(r["code"], r["item"]): r for r in json.loads(out)["rows"]}
    assert rows[("A1.2", "GHG intensity per employee")]["value"] == "0.32"
    code, out = run("esg", "report", "--example", "--format", "csv")
    assert code == 0 and out.startswith("code,item,value")
    report = tmp_path / "esg.html"
    code, out = run("esg", "report", "--example", "--format", "html", "--out", str(report))
    assert code == 0 and "<svg" in report.read_text()
    code, out = run("esg", "report", "--example")
    assert code == 0 and "292" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"year": 2021, "employees": 10, "activities": [{"id": "a", "kind": "electricity.grid", '
                   '"scope": 2, "quantity": 1.5, "unit": "MWh", "region": "CN"}]}')
    code, out = run("esg", "report", "--input", str(bad))
    assert code != 0
    code, out = run("esg", "report")
    assert code != 0


def test_footprints_import_and_export(env: Path, tmp_path: Path) -> None:
    from tests.green.test_pact_model import v3_footprint
    from tierflow.bootstrap import open_platform
    from tierflow.client import PartyKey
    from tierflow.config import Settings

    platform = open_platform(Settings())
    owner = PartyKey.generate()
    platform.ledger.submit(owner.registration(name="Owner Co", role="supplier", operator_id=platform.operator.party_id))
    platform.close()
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"data": [v3_footprint()]}))
    code, out = run("footprint", "import", str(source), "--party", owner.party_id, "--json")
    assert code == 0, out
    assert len(json.loads(out)["published"]) == 1
    target = tmp_path / "out.json"
    code, out = run("footprint", "export", "--party", owner.party_id, "--out", str(target), "--version", "2")
    assert code == 0 and len(json.loads(target.read_text())["data"]) == 1
    code, out = run("footprint", "client", "--owner", owner.party_id, "--for", owner.party_id)
    assert code == 0 and json.loads(out)["client_secret"]
