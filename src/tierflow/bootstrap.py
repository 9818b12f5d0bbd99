"""Composition root: settings → database (migrated) → keys → services.

The only place that wires adapters to ports. On first start it writes the genesis entry: the platform
operator registering itself, carrying the platform policy (tier and split limits, tenor, face limits),
so that a replay of the journal applies the same rules.

Keys: the platform's Ed25519 seed signs checkpoints; the operator's signing key (used for the platform's
own journal entries, such as expiring offers) is derived from it with a labelled hash, so one secret backs
both. Outside development the seed must come from ``TIERFLOW_PLATFORM_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from nacl.signing import SigningKey
from sqlalchemy import Engine

from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.domain.rules import Policy
from tierflow.integrations.bank import SimulatedBank
from tierflow.integrations.contract_pdf import render_contract
from tierflow.integrations.esign import LocalCertificateAuthority
from tierflow.integrations.iso20022 import Iso20022Messages
from tierflow.integrations.registry import SimulatedRegistry
from tierflow.integrations.tax_invoice import SimulatedTaxAuthority
from tierflow.ledger.note import NoteSigner
from tierflow.services.access import AccessService
from tierflow.services.accounts import AccountService, custody_key
from tierflow.services.financing_case import FinancingCaseService
from tierflow.services.footprints import FootprintService
from tierflow.services.green import GreenService
from tierflow.services.journal import JournalService
from tierflow.services.ledger import Clock, LedgerService, policy_from_json, policy_to_json, utc_now
from tierflow.services.queries import QueryService
from tierflow.store.accounts import SqlAccountStore
from tierflow.store.engine import make_engine
from tierflow.store.footprints import SqlFootprintStore
from tierflow.store.migrate import upgrade
from tierflow.store.queries import SqlReadModel, genesis_command
from tierflow.store.repository import SqlUnitOfWorkFactory

OPERATOR_LABEL = b"tierflow/operator-key/v1"


class ConfigurationError(RuntimeError):
    pass


@dataclass
class OutsideServices:
    """The outside services a financing needs. Every one here is a simulation (see ``tierflow.integrations``)
    kept under the data directory; a deployment replaces them with adapters to the real services."""

    esign: LocalCertificateAuthority
    registry: SimulatedRegistry
    tax: SimulatedTaxAuthority
    bank: SimulatedBank

    @classmethod
    def simulated(cls, data_dir: Path, clock: Clock) -> OutsideServices:
        return cls(
            esign=LocalCertificateAuthority(data_dir / "esign", clock=clock),
            registry=SimulatedRegistry(data_dir / "registry.jsonl", clock=clock),
            tax=SimulatedTaxAuthority(data_dir / "tax-invoices.jsonl"),
            # Institutions' accounts open on first use with CNY 10 billion: no real bank stands behind the demo.
            bank=SimulatedBank(clock=clock, opening_balance_minor=10_000_000_000_00),
        )


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    uow: SqlUnitOfWorkFactory
    ledger: LedgerService
    journal: JournalService
    queries: QueryService
    access: AccessService
    accounts: AccountService
    operator: PartyKey
    clock: Clock
    outside: OutsideServices
    cases: FinancingCaseService
    green: GreenService
    footprints: FootprintService

    def close(self) -> None:
        self.engine.dispose()


def load_platform_seed(settings: Settings) -> bytes:
    if settings.platform_key:
        seed = base64.b64decode(settings.platform_key)
        if len(seed) != 32:
            raise ConfigurationError("TIERFLOW_PLATFORM_KEY must be base64 of 32 bytes.")
        return seed
    if settings.environment == "production":
        raise ConfigurationError("Set TIERFLOW_PLATFORM_KEY in production; a generated key file is refused.")
    path = Path(settings.data_dir) / "platform.key"
    if path.exists():
        return base64.b64decode(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(seed).decode() + "\n")
    return seed


def operator_key(seed: bytes) -> PartyKey:
    return PartyKey.from_seed(hashlib.sha256(OPERATOR_LABEL + seed).digest())


def policy_from_settings(settings: Settings) -> Policy:
    return Policy(
        tier_limit=settings.tier_limit,
        split_limit=settings.split_limit,
        offer_ttl_hours=settings.offer_ttl_hours,
        trade_checks=settings.trade_checks,
    )


def open_platform(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    engine: Engine | None = None,
    migrate: bool = True,
) -> Platform:
    settings = settings or Settings()
    engine = engine or make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    seed = load_platform_seed(settings)
    operator = operator_key(seed)
    uow = SqlUnitOfWorkFactory(engine)
    access = AccessService(uow)
    genesis = genesis_command(engine)
    if genesis is None:
        policy = policy_from_settings(settings)
        ledger = LedgerService(
            uow, policy=policy, clock=clock, max_skew=timedelta(seconds=settings.command_max_skew_seconds)
        )
        ledger.submit(
            operator.registration(
                name="Platform operator",
                role="operator",
                operator_id=operator.party_id,
                now=clock,
                policy=policy_to_json(policy),
            )
        )
        _write_operator_token(settings, access.issue_token(operator.party_id))
    else:
        policy = policy_from_json(genesis["body"]["policy"])
        ledger = LedgerService(
            uow, policy=policy, clock=clock, max_skew=timedelta(seconds=settings.command_max_skew_seconds)
        )
    journal = JournalService(uow, NoteSigner(settings.log_origin, SigningKey(seed)), clock=clock)
    outside = OutsideServices.simulated(Path(settings.data_dir), clock)
    cases = FinancingCaseService(
        uow,
        render_contract=render_contract,
        esign=outside.esign,
        registry=outside.registry,
        bank=outside.bank,
        messages=Iso20022Messages(),
        clock=clock,
    )
    return Platform(
        settings=settings,
        engine=engine,
        uow=uow,
        ledger=ledger,
        journal=journal,
        queries=QueryService(SqlReadModel(engine)),
        access=access,
        accounts=AccountService(
            SqlAccountStore(engine),
            custody_key=custody_key(seed),
            clock=clock,
            session_ttl=timedelta(minutes=settings.session_ttl_minutes),
            hasher=PasswordHasher(
                time_cost=settings.password_hash_time_cost, memory_cost=settings.password_hash_memory_kib
            ),
        ),
        operator=operator,
        clock=clock,
        outside=outside,
        cases=cases,
        green=GreenService(uow),
        footprints=FootprintService(SqlFootprintStore(engine), clock=clock),
    )


def _write_operator_token(settings: Settings, token: str) -> None:
    path = Path(settings.data_dir) / "operator.token"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
