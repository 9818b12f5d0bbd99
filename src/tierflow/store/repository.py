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

from sqlalchemy import Connection, Engine, exists, func, insert, select, update
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
from tierflow.services.ports import (
    CaseFile,
    CaseRecord,
    CaseStep,
    DocumentRecord,
    EventRecord,
    FreezeRecord,
    InvoiceUseRecord,
    KpiObservationRecord,
    LabelRecord,
    RepaymentRecord,
    SettlementRecord,
    StoredAnswer,
    VerificationRecord,
)
from tierflow.store import schema as t
from tierflow.store import schema_green as g
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


def document_from_row(row: Any) -> DocumentRecord:
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


def case_from_row(row: Any) -> CaseRecord:
    return CaseRecord(
        financing_id=row.financing_id,
        stage=row.stage,
        recourse=bool(row.recourse),
        verification_id=row.verification_id,
        maker=row.maker,
        recommendation=row.recommendation,
        checker=row.checker,
        contract_number=row.contract_number,
        contract_sha256=row.contract_sha256,
        registry_number=row.registry_number,
        payment_message_id=row.payment_message_id,
        payment_sha256=row.payment_sha256,
        bank_reference=row.bank_reference,
        repaid_minor=row.repaid_minor,
    )


def verification_from_row(row: Any) -> VerificationRecord:
    return VerificationRecord(
        id=row.id,
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        voucher_id=row.voucher_id,
        outcome=row.outcome,
        ruleset=row.ruleset,
        results=row.results,
        documents=row.documents,
    )


def repayment_from_row(row: Any) -> RepaymentRecord:
    return RepaymentRecord(
        entry_ref=row.entry_ref,
        financing_id=row.financing_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        booking_date=_date(row.booking_date),
        payer=row.payer,
    )


def label_from_row(row: Any) -> LabelRecord:
    return LabelRecord(
        id=row.id,
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        taxonomy_id=row.taxonomy_id,
        taxonomy_version=row.taxonomy_version,
        item_code=row.item_code,
        criterion_id=row.criterion_id,
        record=row.record,
        certifier_id=row.certifier_id,
        valid_from=_date(row.valid_from),
        valid_to=None if row.valid_to is None else _date(row.valid_to),
        status=row.status,
    )


def file_from_row(row: Any) -> CaseFile:
    return CaseFile(row.sha256, row.financing_id, row.kind, row.media_type, bytes(row.content), row.created_at)


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
        # Two probes of ix_vouchers_obligor_status rather than one OR the planner might scan for.
        overdue = exists().where(v.obligor_id == obligor_id, v.status == VoucherStatus.OVERDUE.value)
        past_due = exists().where(
            v.obligor_id == obligor_id, v.status == VoucherStatus.ACTIVE.value, v.maturity < today
        )
        return bool(self.conn.execute(select(overdue | past_due)).scalar())

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
        return None if row is None else document_from_row(row)

    def lock_documents(self, doc_type: str, numbers: Sequence[str]) -> None:
        if self._postgres and numbers:
            d = t.documents.c
            stmt = (
                select(d.id)
                .where(d.type == doc_type, d.number.in_(sorted(set(numbers))))
                .order_by(d.number)
                .with_for_update()
            )
            self.conn.execute(stmt).all()

    def documents_by_number(self, doc_type: str, numbers: Sequence[str]) -> list[DocumentRecord]:
        d = t.documents.c
        if not numbers:
            return []
        stmt = select(t.documents).where(d.type == doc_type, d.number.in_(sorted(set(numbers))))
        return [document_from_row(r) for r in self.conn.execute(stmt)]

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
        u = t.party_usccs.c
        stmt = select(u.uscc, u.party_id).where(u.uscc.in_(sorted(set(usccs)))).order_by(u.uscc)
        return [(r[0], r[1]) for r in self.conn.execute(stmt)]

    def party_usccs(self, party_ids: Sequence[str]) -> list[tuple[str, str]]:
        u = t.party_usccs.c
        stmt = select(u.party_id, u.uscc).where(u.party_id.in_(sorted(set(party_ids)))).order_by(u.party_id)
        return [(r[0], r[1]) for r in self.conn.execute(stmt)]

    def bind_usccs(self, pairs: Sequence[tuple[str, str]], event_id: str) -> None:
        known = {party for party, _ in self.party_usccs([p for p, _ in pairs])}
        fresh = [{"party_id": p, "uscc": u, "created_event": event_id} for p, u in pairs if p not in known]
        if fresh:
            self.conn.execute(insert(t.party_usccs), fresh)

    # trade verification -----------------------------------------------------------------------------

    def add_verification(self, record: VerificationRecord, event_id: str) -> None:
        self.conn.execute(
            insert(t.verifications).values(
                id=record.id,
                subject_kind=record.subject_kind,
                subject_id=record.subject_id,
                voucher_id=record.voucher_id,
                outcome=record.outcome,
                ruleset=record.ruleset,
                results=record.results,
                documents=record.documents,
                created_event=event_id,
            )
        )

    def verification(self, verification_id: str) -> VerificationRecord | None:
        row = self._one(select(t.verifications).where(t.verifications.c.id == verification_id))
        return None if row is None else verification_from_row(row)

    def verifications_of(self, subject_id: str) -> list[VerificationRecord]:
        v = t.verifications.c
        stmt = select(t.verifications).where(v.subject_id == subject_id).order_by(v.created_event, v.id)
        return [verification_from_row(r) for r in self.conn.execute(stmt)]

    def invoice_uses(self, numbers: Sequence[str]) -> list[InvoiceUseRecord]:
        if not numbers:
            return []
        u = t.invoice_uses.c
        stmt = (
            select(u.invoice_number, u.use_id, u.kind, u.amount_minor, u.currency)
            .where(u.invoice_number.in_(sorted(set(numbers))), u.released_event.is_(None))
            .order_by(u.invoice_number, u.created_event, u.use_id)
        )
        return [InvoiceUseRecord(*r) for r in self.conn.execute(stmt)]

    def add_invoice_uses(self, uses: Sequence[InvoiceUseRecord], event_id: str) -> None:
        if uses:
            self.conn.execute(
                insert(t.invoice_uses),
                [
                    dict(
                        invoice_number=u.invoice_number,
                        use_id=u.use_id,
                        kind=u.kind,
                        amount_minor=u.amount_minor,
                        currency=u.currency,
                        created_event=event_id,
                    )
                    for u in uses
                ],
            )

    def release_invoice_uses(self, use_id: str, event_id: str) -> None:
        u = t.invoice_uses.c
        self.conn.execute(
            update(t.invoice_uses).where(u.use_id == use_id, u.released_event.is_(None)).values(released_event=event_id)
        )

    def offer_created_on(self, offer_id: str) -> date | None:
        o, e = t.offers.c, t.events.c
        row = self._one(select(e.at).join_from(t.offers, t.events, o.created_event == e.id).where(o.id == offer_id))
        return None if row is None else date.fromisoformat(row.at[:10])

    def accepted_offer_for_holding(self, holding_id: str) -> Offer | None:
        o = t.offers.c
        row = self._one(select(t.offers).where(o.holding_id == holding_id, o.status == OfferStatus.ACCEPTED.value))
        return offer_from_row(row) if row else None

    # financing cases --------------------------------------------------------------------------------

    def get_case(self, financing_id: str, *, for_update: bool = False) -> CaseRecord | None:
        stmt = select(t.financing_cases).where(t.financing_cases.c.financing_id == financing_id)
        row = self._one(stmt, for_update)
        return None if row is None else case_from_row(row)

    def put_case(self, case: CaseRecord, event_id: str) -> None:
        values = dict(
            stage=case.stage,
            recourse=int(case.recourse),
            verification_id=case.verification_id,
            maker=case.maker,
            recommendation=case.recommendation,
            checker=case.checker,
            contract_number=case.contract_number,
            contract_sha256=case.contract_sha256,
            registry_number=case.registry_number,
            payment_message_id=case.payment_message_id,
            payment_sha256=case.payment_sha256,
            bank_reference=case.bank_reference,
            repaid_minor=case.repaid_minor,
            updated_event=event_id,
        )
        c = t.financing_cases.c
        done = self.conn.execute(update(t.financing_cases).where(c.financing_id == case.financing_id).values(values))
        if done.rowcount == 0:
            self.conn.execute(insert(t.financing_cases).values(financing_id=case.financing_id, **values))

    def add_case_step(self, step: CaseStep, event_id: str) -> None:
        self.conn.execute(
            insert(t.case_steps).values(
                event_id=event_id,
                financing_id=step.financing_id,
                stage=step.stage,
                actor_id=step.actor_id,
                user_name=step.user_name,
                note=step.note,
                at=step.at,
            )
        )

    def cases_due(
        self,
        financier_id: str | None,
        until: date,
        *,
        stages: Sequence[str] = ("disbursed", "overdue", "recourse"),
        limit: int = 500,
    ) -> list[tuple[Financing, CaseRecord]]:
        f, k = t.financings.c, t.financing_cases.c
        stmt = (
            select(t.financings, t.financing_cases)
            .join_from(t.financings, t.financing_cases, k.financing_id == f.id)
            .where(k.stage.in_(list(stages)), f.maturity <= until)
            .order_by(f.maturity, f.id)
            .limit(limit)
        )
        if financier_id is not None:
            stmt = stmt.where(f.financier_id == financier_id)
        return [(financing_from_row(r), case_from_row(r)) for r in self.conn.execute(stmt)]

    def case_steps(self, financing_id: str) -> list[tuple[str, CaseStep]]:
        s = t.case_steps.c
        stmt = (
            select(t.case_steps)
            .join(t.events, t.events.c.id == s.event_id)
            .where(s.financing_id == financing_id)
            .order_by(t.events.c.seq)
        )
        return [
            (r.event_id, CaseStep(r.financing_id, r.stage, r.actor_id, r.user_name, r.note, r.at))
            for r in self.conn.execute(stmt)
        ]

    def add_repayment(self, repayment: RepaymentRecord, event_id: str) -> None:
        self.conn.execute(
            insert(t.repayments).values(
                entry_ref=repayment.entry_ref,
                financing_id=repayment.financing_id,
                amount_minor=repayment.amount_minor,
                currency=repayment.currency,
                booking_date=repayment.booking_date,
                payer=repayment.payer,
                created_event=event_id,
            )
        )

    def repayment(self, entry_ref: str) -> RepaymentRecord | None:
        row = self._one(select(t.repayments).where(t.repayments.c.entry_ref == entry_ref))
        return None if row is None else repayment_from_row(row)

    def repayments_of(self, financing_id: str) -> list[RepaymentRecord]:
        r = t.repayments.c
        stmt = select(t.repayments).where(r.financing_id == financing_id).order_by(r.booking_date, r.entry_ref)
        return [repayment_from_row(row) for row in self.conn.execute(stmt)]

    def put_file(self, file: CaseFile) -> None:
        if self._one(select(t.case_files.c.sha256).where(t.case_files.c.sha256 == file.sha256)) is None:
            self.conn.execute(
                insert(t.case_files).values(
                    sha256=file.sha256,
                    financing_id=file.financing_id,
                    kind=file.kind,
                    media_type=file.media_type,
                    content=file.content,
                    created_at=file.created_at,
                )
            )

    def get_file(self, sha256: str) -> CaseFile | None:
        row = self._one(select(t.case_files).where(t.case_files.c.sha256 == sha256))
        return None if row is None else file_from_row(row)

    def files_of(self, financing_id: str) -> list[CaseFile]:
        f = t.case_files.c
        stmt = select(t.case_files).where(f.financing_id == financing_id).order_by(f.created_at, f.sha256)
        return [file_from_row(r) for r in self.conn.execute(stmt)]

    # green finance ----------------------------------------------------------------------------------

    def add_label(self, label: LabelRecord, event_id: str) -> None:
        self.conn.execute(
            insert(g.green_labels).values(
                id=label.id,
                subject_kind=label.subject_kind,
                subject_id=label.subject_id,
                taxonomy_id=label.taxonomy_id,
                taxonomy_version=label.taxonomy_version,
                item_code=label.item_code,
                criterion_id=label.criterion_id,
                record=label.record,
                certifier_id=label.certifier_id,
                valid_from=label.valid_from,
                valid_to=label.valid_to,
                status=label.status,
                created_event=event_id,
            )
        )

    def get_label(self, label_id: str) -> LabelRecord | None:
        row = self._one(select(g.green_labels).where(g.green_labels.c.id == label_id))
        return None if row is None else label_from_row(row)

    def revoke_label(self, label_id: str, event_id: str) -> None:
        self.conn.execute(
            update(g.green_labels)
            .where(g.green_labels.c.id == label_id)
            .values(status="revoked", revoked_event=event_id)
        )

    def put_sll_terms(self, financing_id: str, terms: str, event_id: str) -> None:
        self.conn.execute(insert(g.sll_terms).values(financing_id=financing_id, terms=terms, created_event=event_id))

    def sll_terms(self, financing_id: str) -> str | None:
        row = self._one(select(g.sll_terms.c.terms).where(g.sll_terms.c.financing_id == financing_id))
        return None if row is None else str(row.terms)

    def add_kpi_observation(self, observation: KpiObservationRecord, event_id: str) -> None:
        self.conn.execute(
            insert(g.kpi_observations).values(
                id=observation.id,
                financing_id=observation.financing_id,
                kpi_id=observation.kpi_id,
                year=observation.year,
                certifier_id=observation.certifier_id,
                observation=observation.observation,
                outcome=observation.outcome,
                adjustment_bp=observation.adjustment_bp,
                assessment=observation.assessment,
                created_event=event_id,
            )
        )

    def kpi_observations(self, financing_id: str) -> list[KpiObservationRecord]:
        k = g.kpi_observations.c
        stmt = select(g.kpi_observations).where(k.financing_id == financing_id).order_by(k.year, k.kpi_id)
        return [
            KpiObservationRecord(
                r.id,
                r.financing_id,
                r.kpi_id,
                r.year,
                r.certifier_id,
                r.observation,
                r.outcome,
                r.adjustment_bp,
                r.assessment,
            )
            for r in self.conn.execute(stmt)
        ]

    def kpi_observation_exists(self, financing_id: str, kpi_id: str, year: int) -> bool:
        k = g.kpi_observations.c
        stmt = select(k.id).where(k.financing_id == financing_id, k.kpi_id == kpi_id, k.year == year)
        return self._one(stmt) is not None

    def labels(
        self, *, subject_id: str | None = None, taxonomy_id: str | None = None, limit: int = 200
    ) -> list[LabelRecord]:
        lb = g.green_labels.c
        stmt = select(g.green_labels).order_by(lb.created_event, lb.id).limit(limit)
        if subject_id is not None:
            stmt = stmt.where(lb.subject_id == subject_id)
        if taxonomy_id is not None:
            stmt = stmt.where(lb.taxonomy_id == taxonomy_id)
        return [label_from_row(r) for r in self.conn.execute(stmt)]

    def labels_for_subjects(
        self, subjects: Sequence[tuple[str, str]], *, taxonomy_id: str | None = None
    ) -> list[LabelRecord]:
        lb = g.green_labels.c
        out: list[LabelRecord] = []
        for kind in sorted({k for k, _ in subjects}):
            ids = sorted({i for k, i in subjects if k == kind})
            for start in range(0, len(ids), 500):
                stmt = select(g.green_labels).where(
                    lb.subject_kind == kind, lb.subject_id.in_(ids[start : start + 500])
                )
                if taxonomy_id is not None:
                    stmt = stmt.where(lb.taxonomy_id == taxonomy_id)
                out.extend(label_from_row(r) for r in self.conn.execute(stmt))
        return out

    def financings_of(self, financier_id: str, status: str) -> list[Financing]:
        f = t.financings.c
        stmt = select(t.financings).where(f.financier_id == financier_id, f.status == status).order_by(f.id)
        return [financing_from_row(r) for r in self.conn.execute(stmt)]

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
