"""SQLAlchemy Core implementation of the services' ``Repository`` and ``UnitOfWork`` ports.

Core statements, not the ORM: the hot path (a transfer) is a handful of indexed reads and writes, and the
domain's frozen values map to rows directly. Status changes are guarded (``WHERE status <> 'superseded'``)
so that a lost race surfaces as ``concurrent_update`` instead of a silent double spend; PostgreSQL's
exclusion constraint is the last line of defence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from threading import RLock
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from tierflow.domain.model import (
    Financing,
    FinancingStatus,
    Holding,
    HoldingStatus,
    Offer,
    OfferStatus,
    Party,
    Role,
    Voucher,
    VoucherStatus,
)
from tierflow.domain.pricing import DayCount
from tierflow.domain.units import UnitRange
from tierflow.services.errors import ConcurrentUpdate, ReplayedCommand
from tierflow.services.ports import DocumentRecord, EventRecord, FreezeRecord, SettlementRecord, StoredAnswer
from tierflow.store import schema as t
from tierflow.store.engine import READ_ONLY
from tierflow.store.raw import RawStatements
from tierflow.store.tree import SqlTreeRepository


def party_from_row(row: Any) -> Party:
    return Party(id=row.id, name=row.name, role=Role(row.role), public_key=bytes(row.public_key))


def _date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def voucher_from_row(row: Any) -> Voucher:
    return Voucher(
        id=row.id,
        obligor=row.obligor_id,
        first_holder=row.first_holder_id,
        currency=row.currency,
        face_minor=row.face_minor,
        issue_date=_date(row.issue_date),
        maturity=_date(row.maturity),
        contract_ref=row.contract_ref,
        invoice_refs=tuple(json.loads(row.invoice_refs)),
        split_count=row.split_count,
        status=VoucherStatus(row.status),
    )


def holding_from_row(row: Any) -> Holding:
    return Holding(
        id=row.id,
        voucher_id=row.voucher_id,
        units=UnitRange(row.start_unit, row.end_unit),
        holder=row.holder_id,
        tier=row.tier,
        parent_id=row.parent_id,
        status=HoldingStatus(row.status),
    )


def offer_from_row(row: Any) -> Offer:
    return Offer(
        id=row.id,
        voucher_id=row.voucher_id,
        holding_id=row.holding_id,
        source_holding_id=row.source_holding_id,
        sender=row.sender_id,
        recipient=row.recipient_id,
        units_minor=row.units,
        trade_ref=row.trade_ref,
        invoice_refs=tuple(json.loads(row.invoice_refs)),
        expires_at=datetime.fromisoformat(row.expires_at.replace("Z", "+00:00")),
        status=OfferStatus(row.status),
    )


def financing_from_row(row: Any) -> Financing:
    return Financing(
        id=row.id,
        voucher_id=row.voucher_id,
        holding_id=row.holding_id,
        applicant=row.applicant_id,
        financier=row.financier_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        annual_rate=Decimal(row.annual_rate),
        basis=DayCount(row.basis),
        value_date=_date(row.value_date),
        maturity=_date(row.maturity),
        discount_minor=row.discount_minor,
        fee_minor=row.fee_minor,
        net_minor=row.net_minor,
        status=FinancingStatus(row.status),
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# Statements with dates are built once (SQLAlchemy then reuses their compiled form); the hot path's other
# statements go straight to the driver (``raw``).
_INSERT = {table.name: insert(table) for table in (t.vouchers, t.financings)}


class SqlRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._postgres = conn.dialect.name == "postgresql"
        self.raw = RawStatements(conn)

    @property
    def row_locks(self) -> bool:
        """Whether ``for_update`` reads take row locks (PostgreSQL); SQLite locks the whole database."""
        return self._postgres

    def _one(self, stmt: Any, for_update: bool = False) -> Any:
        if for_update and self._postgres:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).first()

    # parties ----------------------------------------------------------------------------------------

    def get_party(self, party_id: str) -> Party | None:
        row = self.raw.by_id(t.parties, party_id)
        return party_from_row(row) if row else None

    def party_by_token_hash(self, token_hash: str) -> Party | None:
        row = self._one(select(t.parties).where(t.parties.c.token_hash == token_hash))
        return party_from_row(row) if row else None

    def add_party(self, party: Party, token_hash: str | None, event_id: str) -> None:
        self.conn.execute(
            insert(t.parties).values(
                id=party.id,
                name=party.name,
                role=party.role.value,
                public_key=party.public_key,
                token_hash=token_hash,
                registered_event=event_id,
            )
        )

    def set_token_hash(self, party_id: str, token_hash: str) -> None:
        self.conn.execute(update(t.parties).where(t.parties.c.id == party_id).values(token_hash=token_hash))

    def lock_party(self, party_id: str) -> None:
        if self._postgres:
            self.raw.by_id(t.parties, party_id, lock=True)

    def operator(self) -> Party | None:
        row = self._one(select(t.parties).where(t.parties.c.role == Role.OPERATOR.value).limit(1))
        return party_from_row(row) if row else None

    # vouchers and holdings ---------------------------------------------------------------------------

    def get_voucher(self, voucher_id: str, *, for_update: bool = False) -> Voucher | None:
        row = self.raw.by_id(t.vouchers, voucher_id, lock=for_update)
        return voucher_from_row(row) if row else None

    def add_voucher(self, voucher: Voucher, event_id: str) -> None:
        self.conn.execute(
            _INSERT["vouchers"],
            dict(
                id=voucher.id,
                obligor_id=voucher.obligor,
                first_holder_id=voucher.first_holder,
                currency=voucher.currency,
                face_minor=voucher.face_minor,
                issue_date=voucher.issue_date,
                maturity=voucher.maturity,
                contract_ref=voucher.contract_ref,
                invoice_refs=json.dumps(list(voucher.invoice_refs)),
                split_count=voucher.split_count,
                status=voucher.status.value,
                issued_event=event_id,
            ),
        )

    def update_voucher(self, voucher: Voucher) -> None:
        self.raw.execute(
            "UPDATE vouchers SET split_count = :split, status = :status WHERE id = :id",
            {"id": voucher.id, "split": voucher.split_count, "status": voucher.status.value},
        )

    def obligor_has_overdue(self, obligor_id: str, today: date) -> bool:
        v = t.vouchers.c
        stmt = select(
            exists().where(
                v.obligor_id == obligor_id,
                (v.status == VoucherStatus.OVERDUE.value)
                | and_(v.status == VoucherStatus.ACTIVE.value, v.maturity < today),
            )
        )
        return bool(self.conn.execute(stmt).scalar())

    def get_holding(self, holding_id: str, *, for_update: bool = False) -> Holding | None:
        row = self.raw.by_id(t.holdings, holding_id, lock=for_update)
        return holding_from_row(row) if row else None

    def add_holdings(self, holdings: Sequence[Holding], event_id: str) -> None:
        if not holdings:
            return
        self.raw.insert(
            t.holdings,
            [
                {
                    "id": h.id,
                    "voucher_id": h.voucher_id,
                    "start_unit": h.units.start,
                    "end_unit": h.units.end,
                    "holder_id": h.holder,
                    "tier": h.tier,
                    "parent_id": h.parent_id,
                    "status": h.status.value,
                    "created_event": event_id,
                    "closed_event": None,
                }
                for h in holdings
            ],
        )

    def _guarded_status(self, holding_id: str, status: str, event_id: str | None) -> None:
        params: dict[str, Any] = {"id": holding_id, "status": status}
        sets = "status = :status"
        if event_id is not None and status in (HoldingStatus.SUPERSEDED.value, HoldingStatus.SETTLED.value):
            params["event"] = event_id
            sets += ", closed_event = :event"
        changed = self.raw.execute(
            f"UPDATE holdings SET {sets} WHERE id = :id AND status <> 'superseded'", params
        ).rowcount
        if changed != 1:
            raise ConcurrentUpdate("The holding was changed by another operation; retry.", holding_id=holding_id)

    def set_holding_status(self, holding: Holding, event_id: str) -> None:
        self._guarded_status(holding.id, holding.status.value, event_id)

    def supersede(self, holdings: Sequence[Holding], event_id: str) -> None:
        for holding in holdings:
            self._guarded_status(holding.id, HoldingStatus.SUPERSEDED.value, event_id)

    def active_holdings(self, voucher_id: str, *, for_update: bool = False) -> list[Holding]:
        stmt = (
            select(t.holdings)
            .where(t.holdings.c.voucher_id == voucher_id, t.holdings.c.status != HoldingStatus.SUPERSEDED.value)
            .order_by(t.holdings.c.start_unit)
        )
        if for_update and self._postgres:
            stmt = stmt.with_for_update()
        return [holding_from_row(r) for r in self.conn.execute(stmt)]

    # offers ------------------------------------------------------------------------------------------

    def get_offer(self, offer_id: str, *, for_update: bool = False) -> Offer | None:
        row = self.raw.by_id(t.offers, offer_id, lock=for_update)
        return offer_from_row(row) if row else None

    def add_offer(self, offer: Offer, event_id: str) -> None:
        self.raw.insert(
            t.offers,
            [
                dict(
                    id=offer.id,
                    voucher_id=offer.voucher_id,
                    holding_id=offer.holding_id,
                    source_holding_id=offer.source_holding_id,
                    sender_id=offer.sender,
                    recipient_id=offer.recipient,
                    units=offer.units_minor,
                    trade_ref=offer.trade_ref,
                    invoice_refs=json.dumps(list(offer.invoice_refs)),
                    expires_at=_iso(offer.expires_at),
                    status=offer.status.value,
                    created_event=event_id,
                )
            ],
        )

    def update_offer(self, offer: Offer, event_id: str) -> None:
        self.conn.execute(
            update(t.offers).where(t.offers.c.id == offer.id).values(status=offer.status.value, resolved_event=event_id)
        )

    def pending_offers(self, voucher_id: str) -> list[Offer]:
        stmt = (
            select(t.offers)
            .where(t.offers.c.voucher_id == voucher_id, t.offers.c.status == OfferStatus.PENDING.value)
            .order_by(t.offers.c.id)
        )
        return [offer_from_row(r) for r in self.conn.execute(stmt)]

    def expired_offer_ids(self, now_iso: str, limit: int) -> list[str]:
        stmt = (
            select(t.offers.c.id)
            .where(t.offers.c.status == OfferStatus.PENDING.value, t.offers.c.expires_at <= now_iso)
            .order_by(t.offers.c.expires_at)
            .limit(limit)
        )
        return list(self.conn.execute(stmt).scalars())

    # financings --------------------------------------------------------------------------------------

    def get_financing(self, financing_id: str, *, for_update: bool = False) -> Financing | None:
        row = self.raw.by_id(t.financings, financing_id, lock=for_update)
        return financing_from_row(row) if row else None

    def add_financing(self, financing: Financing, event_id: str) -> None:
        self.conn.execute(
            _INSERT["financings"],
            dict(
                id=financing.id,
                voucher_id=financing.voucher_id,
                holding_id=financing.holding_id,
                applicant_id=financing.applicant,
                financier_id=financing.financier,
                amount_minor=financing.amount_minor,
                currency=financing.currency,
                annual_rate=str(financing.annual_rate),
                basis=financing.basis.value,
                value_date=financing.value_date,
                maturity=financing.maturity,
                days=(financing.maturity - financing.value_date).days,
                discount_minor=financing.discount_minor,
                fee_minor=financing.fee_minor,
                net_minor=financing.net_minor,
                status=financing.status.value,
                created_event=event_id,
            ),
        )

    def update_financing(self, financing: Financing, event_id: str, funded_holding_id: str | None) -> None:
        self.conn.execute(
            update(t.financings)
            .where(t.financings.c.id == financing.id)
            .values(
                status=financing.status.value,
                resolved_event=event_id,
                funded_holding_id=funded_holding_id,
                value_date=financing.value_date,
                days=(financing.maturity - financing.value_date).days,
                discount_minor=financing.discount_minor,
                fee_minor=financing.fee_minor,
                net_minor=financing.net_minor,
            )
        )

    def requested_financings(self, voucher_id: str) -> list[Financing]:
        stmt = (
            select(t.financings)
            .where(t.financings.c.voucher_id == voucher_id, t.financings.c.status == FinancingStatus.REQUESTED.value)
            .order_by(t.financings.c.id)
        )
        return [financing_from_row(r) for r in self.conn.execute(stmt)]

    # freezes and settlements -------------------------------------------------------------------------

    def get_freeze(self, freeze_id: str, *, for_update: bool = False) -> FreezeRecord | None:
        row = self.raw.by_id(t.freezes, freeze_id, lock=for_update)
        if row is None:
            return None
        return FreezeRecord(row.id, row.voucher_id, row.holding_id, row.reason, row.status)

    def add_freeze(self, freeze: FreezeRecord, event_id: str) -> None:
        self.conn.execute(
            insert(t.freezes).values(
                id=freeze.id,
                voucher_id=freeze.voucher_id,
                holding_id=freeze.holding_id,
                reason=freeze.reason,
                status=freeze.status,
                created_event=event_id,
            )
        )

    def release_freeze(self, freeze_id: str, event_id: str) -> None:
        self.conn.execute(
            update(t.freezes).where(t.freezes.c.id == freeze_id).values(status="released", released_event=event_id)
        )

    def add_settlement(self, settlement: SettlementRecord, event_id: str) -> None:
        self.conn.execute(
            insert(t.settlements).values(
                id=settlement.id,
                voucher_id=settlement.voucher_id,
                obligor_id=settlement.obligor_id,
                paid_minor=settlement.paid_minor,
                overdue_minor=settlement.overdue_minor,
                value_date=settlement.value_date,
                created_event=event_id,
            )
        )
        if settlement.payments:
            self.conn.execute(
                insert(t.settlement_payments),
                [
                    {"settlement_id": settlement.id, "holding_id": h, "holder_id": p, "amount_minor": a}
                    for h, p, a in settlement.payments
                ],
            )

    # trade documents ---------------------------------------------------------------------------------

    def get_document_by_number(self, doc_type: str, number: str) -> DocumentRecord | None:
        d = t.documents.c
        row = self._one(select(t.documents).where(d.type == doc_type, d.number == number))
        if row is None:
            return None
        return DocumentRecord(
            id=row.id,
            type=row.type,
            number=row.number,
            registered_by=row.registered_by,
            seller_id=row.seller_id,
            buyer_id=row.buyer_id,
            seller_uscc=row.seller_uscc,
            buyer_uscc=row.buyer_uscc,
            fields=row.fields,
            content_hash=row.content_hash,
            source=row.source,
        )

    def add_document(self, document: DocumentRecord, event_id: str) -> None:
        self.conn.execute(
            insert(t.documents).values(
                id=document.id,
                type=document.type,
                number=document.number,
                registered_by=document.registered_by,
                seller_id=document.seller_id,
                buyer_id=document.buyer_id,
                seller_uscc=document.seller_uscc,
                buyer_uscc=document.buyer_uscc,
                fields=document.fields,
                content_hash=document.content_hash,
                source=document.source,
                created_event=event_id,
            )
        )

    def uscc_bindings(self, usccs: Sequence[str]) -> list[tuple[str, str]]:
        d = t.documents.c
        sellers = select(d.seller_uscc, d.seller_id).where(d.seller_uscc.in_(usccs))
        buyers = select(d.buyer_uscc, d.buyer_id).where(d.buyer_uscc.in_(usccs))
        found = {(r[0], r[1]) for r in self.conn.execute(sellers)} | {(r[0], r[1]) for r in self.conn.execute(buyers)}
        return sorted(found)

    def party_usccs(self, party_ids: Sequence[str]) -> list[tuple[str, str]]:
        d = t.documents.c
        sellers = select(d.seller_id, d.seller_uscc).where(d.seller_id.in_(party_ids), d.seller_uscc.is_not(None))
        buyers = select(d.buyer_id, d.buyer_uscc).where(d.buyer_id.in_(party_ids), d.buyer_uscc.is_not(None))
        found = {(r[0], r[1]) for r in self.conn.execute(sellers)} | {(r[0], r[1]) for r in self.conn.execute(buyers)}
        return sorted(found)

    # journal and idempotency -------------------------------------------------------------------------

    def digest_seen(self, command_digest: str) -> bool:
        found = self.raw.execute("SELECT 1 FROM events WHERE command_digest = :d", {"d": command_digest})
        return found.fetchone() is not None

    def append_event(self, event: EventRecord) -> None:
        self.raw.insert(
            t.events,
            [
                dict(
                    id=event.id,
                    kind=event.kind,
                    actor_id=event.actor_id,
                    at=event.at,
                    command_digest=event.command_digest,
                    leaf=event.leaf,
                )
            ],
        )
        self.raw.insert(t.event_parties, [{"event_id": event.id, "party_id": p} for p in event.concerns])

    def get_answer(self, party_id: str, key: str) -> StoredAnswer | None:
        row = self.raw.execute(
            "SELECT request_hash, status_code, response FROM idempotency_keys WHERE party_id = :p AND key = :k",
            {"p": party_id, "k": key},
        ).fetchone()
        return StoredAnswer(row[0], row[1], row[2]) if row else None

    def put_answer(self, party_id: str, key: str, answer: StoredAnswer, at: str) -> None:
        self.raw.insert(
            t.idempotency_keys,
            [
                dict(
                    party_id=party_id,
                    key=key,
                    request_hash=answer.request_hash,
                    status_code=answer.status_code,
                    response=answer.response,
                    created_at=at,
                )
            ],
        )

    def count_vouchers(self) -> int:
        return self.count(t.vouchers)

    def count(self, table: Any) -> int:
        return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())


class SqlUnitOfWork:
    """One transaction on one connection; ``commit()`` must be called or everything is rolled back."""

    repo: SqlRepository
    tree: SqlTreeRepository

    def __init__(self, engine: Engine, *, read_only: bool = False, writer_lock: RLock | None = None) -> None:
        self._engine = engine
        self._read_only = read_only
        self._writer_lock = None if read_only else writer_lock

    def __enter__(self) -> SqlUnitOfWork:
        if self._writer_lock is not None:
            self._writer_lock.acquire()
        try:
            return self._open()
        except BaseException:
            if self._writer_lock is not None:
                self._writer_lock.release()
            raise

    def _open(self) -> SqlUnitOfWork:
        self.conn = self._engine.connect()
        if self._read_only:
            self.conn.execution_options(**{READ_ONLY: True})
        self._tx = self.conn.begin()
        self.repo = SqlRepository(self.conn)
        self.tree = SqlTreeRepository(self.conn)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()
            if self._writer_lock is not None:
                self._writer_lock.release()

    def commit(self) -> None:
        self._tx.commit()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        try:
            with self.repo.raw.savepoint():
                yield
        except Exception as error:
            translated = translate_db_error(error)
            if translated is not None:
                raise translated from error
            raise


def translate_db_error(error: BaseException) -> Exception | None:
    """Database refusals that mean "someone else got there first" become typed service errors.

    Works on SQLAlchemy's wrapped errors and on the driver's own (raised by ``RawStatements``).
    """
    orig = getattr(error, "orig", None) or error
    names = {cls.__name__ for cls in type(orig).__mro__}
    if isinstance(error, IntegrityError) or "IntegrityError" in names:
        if "command_digest" in str(orig):
            return ReplayedCommand("This signed command has already been executed.")
        return ConcurrentUpdate("Another operation changed the same units first; nothing was changed.")
    if isinstance(error, DBAPIError) or "OperationalError" in names or "DatabaseError" in names:
        code = getattr(orig, "sqlstate", None)
        if code in ("40001", "40P01", "55P03") or "database is locked" in str(orig):
            return ConcurrentUpdate("Another operation held the same data; nothing was changed. Retry.")
    return None


class SqlUnitOfWorkFactory:
    """Units of work on one engine. On SQLite the writers of this process queue on a Python lock: SQLite has
    one writer at a time anyway, and its own busy handler waits by sleeping in growing steps (up to 100 ms),
    which made the HTTP server's writer and its integrator thread stall each other. Other processes still
    wait through the busy timeout."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer_lock = RLock() if engine.dialect.name == "sqlite" else None

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=read_only, writer_lock=self._writer_lock)
