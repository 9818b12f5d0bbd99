"""Shared fixtures: a platform on SQLite (always) and on PostgreSQL (when TIERFLOW_TEST_POSTGRES_URL is set).

PostgreSQL tests get a schema of their own per test, so they can run in parallel. Without the variable they
are skipped with a visible reason; with TIERFLOW_REQUIRE_POSTGRES=1 (as in CI) an unreachable server fails
the run instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from tierflow.bootstrap import Platform, open_platform
from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.store.engine import make_engine

PG_URL = os.environ.get("TIERFLOW_TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("TIERFLOW_REQUIRE_POSTGRES") == "1"


CHROMIUM = os.environ.get("TIERFLOW_CHROMIUM", "/usr/bin/chromium")


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set TIERFLOW_CHROMIUM)"
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    if PG_URL:
        lines = [f"PostgreSQL tests: ON ({PG_URL.split('@')[-1]})"]
    else:
        lines = ["PostgreSQL tests: SKIPPED (set TIERFLOW_TEST_POSTGRES_URL=postgresql+psycopg://user@host/db)"]
    reason = browser_unavailable()
    lines.append(f"Browser tests: SKIPPED ({reason})" if reason else f"Browser tests: ON (Chromium at {CHROMIUM})")
    from tierflow.privacy.ristretto import INSTALL_HINT, available

    lines.append("Privacy tests: ON (libsodium)" if available() else f"Privacy tests: SKIPPED ({INSTALL_HINT})")
    return lines


class FakeClock:
    """A controllable clock: tests move time to maturity without waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)

    def set(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _pg_schema_url(schema: str) -> str:
    assert PG_URL is not None
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def _admin_engine() -> Engine:
    assert PG_URL is not None
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tierflow.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL not configured (TIERFLOW_TEST_POSTGRES_URL unset)")
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as error:  # pragma: no cover - depends on the machine
        if REQUIRE_PG:
            raise
        pytest.skip(f"PostgreSQL unreachable: {error}")
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Test settings. Cheap password hashes: the tests sign in often; production keeps Argon2id's recommended
    cost. Trade checks are recorded, not enforced, unless overridden: most tests exercise the ledger with
    placeholder document references; the trade-background tests enforce them on registered documents."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": tmp_path / "var",
        "password_hash_memory_kib": 1024,
        "password_hash_time_cost": 1,
        "trade_checks": "record",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def platform(settings: Settings, clock: FakeClock) -> Iterator[Platform]:
    engine = make_engine(settings.database_url)
    p = open_platform(settings, clock=clock, engine=engine)
    yield p
    p.close()


class Chain:
    """A small supply chain in the business's words: Core Co, its tier-1..3 suppliers, and a bank."""

    def __init__(self, platform: Platform, clock: FakeClock) -> None:
        self.p = platform
        self.clock = clock
        self.keys: list[PartyKey] = []
        self.core = self.register("Core Co", "core_enterprise")
        self.tier1 = self.register("Tier-1 Ltd", "supplier")
        self.tier2 = self.register("Tier-2 Ltd", "supplier")
        self.tier3 = self.register("Tier-3 Ltd", "supplier")
        self.bank = self.register("First Bank", "financial_institution")

    def register(self, name: str, role: str) -> PartyKey:
        key = PartyKey.generate()
        self.keys.append(key)
        self.p.ledger.submit(key.registration(name=name, role=role, operator_id=self.p.operator.party_id,
                                              now=self.clock))
        return key

    def do(self, who: PartyKey, kind: str, **body: object) -> dict[str, object]:
        return dict(self.p.ledger.submit(who.command(kind, body, now=self.clock)).effects)

    def issue(self, amount: str = "1000000.00", *, days: int = 90, to: PartyKey | None = None) -> dict[str, object]:
        maturity = (self.clock.now + timedelta(days=days)).date().isoformat()
        return self.do(
            self.core, "voucher.issue", first_holder=(to or self.tier1).party_id, amount=amount, currency="CNY",
            maturity=maturity, contract_ref="PO-2026-001", invoice_refs=["INV-0001"],
        )

    def disburse(self, financing_id: object, *, bank: PartyKey | None = None) -> dict[str, object]:
        """Walk a verified financing request through review, approval, signatures and registration to
        disbursement with the commands alone (the files' hashes are placeholders; tests of the workflow service
        use real PDFs, signatures and payment messages)."""
        bank = bank or self.bank
        self.do(bank, "financing.review", financing_id=financing_id, user="maker", recommendation="approve")
        self.do(bank, "financing.approve", financing_id=financing_id, user="checker")
        applicant = self._applicant_of(str(financing_id))
        self.do(applicant, "financing.sign", financing_id=financing_id, contract_number="FC-" + str(financing_id)[-8:],
                contract_sha256="a" * 64)
        self.do(bank, "financing.sign", financing_id=financing_id, contract_number="FC-" + str(financing_id)[-8:],
                contract_sha256="b" * 64)
        self.do(bank, "financing.register", financing_id=financing_id, registry_number="0" * 20)
        return self.do(bank, "financing.fund", financing_id=financing_id,
                       payment_message_id="MSG-" + str(financing_id)[-8:], payment_sha256="c" * 64,
                       bank_reference="BR-1")

    def _applicant_of(self, financing_id: str) -> PartyKey:
        with self.p.uow(read_only=True) as uow:
            financing = uow.repo.get_financing(financing_id)
        assert financing is not None
        for key in self.keys:
            if key.party_id == financing.applicant:
                return key
        raise LookupError(financing.applicant)

    def offer(self, sender: PartyKey, holding_id: object, recipient: PartyKey, amount: str) -> dict[str, object]:
        return self.do(
            sender, "transfer.offer", holding_id=holding_id, recipient=recipient.party_id, amount=amount,
            currency="CNY", trade_ref="C-" + recipient.party_id[-4:], invoice_refs=["INV-" + amount],
        )


@pytest.fixture
def chain(platform: Platform, clock: FakeClock) -> Chain:
    return Chain(platform, clock)


Factory = Callable[..., Platform]
