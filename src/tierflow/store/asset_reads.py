"""SQLAlchemy Core read model behind ``tierflow.services.asset_review`` (the ``AssetReads`` protocol).

Design overview
---------------

- Every method is one statement over a list of ids (lists longer than ``MAX_IN`` are split), so a review's
  statement count grows with the number of chunks, not with the number of hops.
- Index use: vouchers, parties, documents (``type``, ``number``), invoice uses and events are read by key.
  Offers have no index on ``voucher_id``; accepted transfers are reached through the holdings of the vouchers
  (``ix_holdings_voucher_units``) and ``ix_offers_holding``, their status checked after the read. Financings
  have no index on ``voucher_id`` or ``holding_id`` either: the (financing, voucher) pairs of all financings
  with a case are listed once per read model (one pass over the cases), each chunk's then read by key.
- What the projections do not keep is read from the journal: an offer's date is its creating entry's ``at``, and
  the invoices and contract a financing request named come from the command in its entry (the leaf). A request
  that named none leaves them ``None``: the review then takes the backing hop's, as the request did.
- ``asset_reads(engine)`` opens one read-only transaction for the whole review: on SQLite a deferred read
  transaction (one WAL snapshot), on PostgreSQL REPEATABLE READ, so every chunk sees the same state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, or_, select

from tierflow.domain.model import OfferStatus, VoucherStatus
from tierflow.services.asset_review import (
    DocumentLine,
    FinancingLine,
    HoldingLink,
    PartyLine,
    TransferLine,
    VoucherLine,
)
from tierflow.services.ports import InvoiceUseRecord
from tierflow.store import schema as t
from tierflow.store.engine import READ_ONLY

MAX_IN = 5000  # ids per IN list (SQLite allows 32,766 parameters per statement, psycopg 65,535)


def _batches(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), MAX_IN):
        yield list(ids[start : start + MAX_IN])


def _date(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _refs(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _claim(leaf: bytes | None) -> tuple[tuple[str, ...] | None, str | None]:
    """The ``invoice_refs`` and ``contract_ref`` a financing request's command named, or None for each."""
    if leaf is None:
        return None, None
    try:
        body = json.loads(bytes(leaf))["command"]["body"]
    except (ValueError, KeyError, TypeError):
        return None, None
    refs = body.get("invoice_refs") if isinstance(body, dict) else None
    contract = body.get("contract_ref") if isinstance(body, dict) else None
    invoices = tuple(refs) if isinstance(refs, list) and all(isinstance(r, str) for r in refs) else None
    return invoices, contract if isinstance(contract, str) else None


class SqlAssetReads:
    """``AssetReads`` on one connection (the caller's transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._financings: dict[str, list[str]] | None = None

    def voucher_ids(self) -> list[str]:
        v = t.vouchers.c
        return list(self.conn.execute(select(v.id).order_by(v.id)).scalars())

    def vouchers(self, ids: Sequence[str]) -> list[VoucherLine]:
        v = t.vouchers.c
        cols = (v.id, v.obligor_id, v.first_holder_id, v.currency, v.face_minor, v.issue_date, v.maturity)
        out: list[VoucherLine] = []
        for part in _batches(ids):
            stmt = select(*cols, v.contract_ref, v.invoice_refs).where(v.id.in_(part))
            out.extend(
                VoucherLine(r[0], r[1], r[2], r[3], r[4], _date(r[5]), _date(r[6]), r[7], _refs(r[8]))
                for r in self.conn.execute(stmt)
            )
        return out

    def accepted_transfers(self, voucher_ids: Sequence[str]) -> list[TransferLine]:
        o, h, e = t.offers.c, t.holdings.c, t.events.c
        out: list[TransferLine] = []
        accepted = OfferStatus.ACCEPTED.value
        for part in _batches(voucher_ids):
            # The status is checked here, not in SQL: with it in the WHERE clause SQLite reads every accepted
            # offer through ix_offers_status_expires instead of starting from the chunk's holdings.
            stmt = (
                select(o.id, o.voucher_id, o.holding_id, o.sender_id, o.recipient_id, o.units, o.trade_ref)
                .add_columns(o.invoice_refs, e.at, o.status)
                .select_from(t.holdings)
                .join(t.offers, o.holding_id == h.id)
                .join(t.events, e.id == o.created_event)
                .where(h.voucher_id.in_(part))
                .order_by(o.voucher_id, e.seq)
            )
            out.extend(
                TransferLine(
                    r[0], r[1], r[2], r[3], r[4], r[5], r[6], _refs(r[7]), date.fromisoformat(r[8][:10])
                )
                for r in self.conn.execute(stmt)
                if r[9] == accepted
            )
        return out

    def _financings_by_voucher(self) -> dict[str, list[str]]:
        if self._financings is None:
            f, k = t.financings.c, t.financing_cases.c
            stmt = select(f.voucher_id, f.id).join_from(t.financing_cases, t.financings, f.id == k.financing_id)
            found: dict[str, list[str]] = {}
            for voucher_id, financing_id in self.conn.execute(stmt):
                found.setdefault(voucher_id, []).append(financing_id)
            self._financings = found
        return self._financings

    def financings_with_cases(self, voucher_ids: Sequence[str]) -> list[FinancingLine]:
        listed = self._financings_by_voucher()
        ids = sorted(fid for v in voucher_ids for fid in listed.get(v, ()))
        f, k, e = t.financings.c, t.financing_cases.c, t.events.c
        out: list[FinancingLine] = []
        for part in _batches(ids):
            stmt = (
                select(f.id, f.voucher_id, f.holding_id, f.applicant_id, f.financier_id, f.amount_minor, f.currency)
                .add_columns(f.value_date, k.stage, e.leaf)
                .select_from(t.financings)
                .join(t.financing_cases, k.financing_id == f.id)
                .outerjoin(t.events, e.id == f.created_event)
                .where(f.id.in_(part))
                .order_by(f.voucher_id, f.id)
            )
            for r in self.conn.execute(stmt):
                invoices, contract = _claim(r[9])
                out.append(
                    FinancingLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _date(r[7]), r[8], invoices, contract)
                )
        return out

    def holding_links(self, voucher_ids: Sequence[str]) -> list[HoldingLink]:
        h = t.holdings.c
        out: list[HoldingLink] = []
        for part in _batches(voucher_ids):
            stmt = select(h.id, h.parent_id, h.holder_id, h.tier).where(h.voucher_id.in_(part))
            out.extend(HoldingLink(*r) for r in self.conn.execute(stmt))
        return out

    def parties(self, ids: Sequence[str]) -> list[PartyLine]:
        p = t.parties.c
        out: list[PartyLine] = []
        for part in _batches(ids):
            out.extend(PartyLine(*r) for r in self.conn.execute(select(p.id, p.name, p.role).where(p.id.in_(part))))
        return out

    def party_usccs(self, ids: Sequence[str]) -> list[tuple[str, str]]:
        u = t.party_usccs.c
        out: list[tuple[str, str]] = []
        for part in _batches(ids):
            out.extend((r[0], r[1]) for r in self.conn.execute(select(u.party_id, u.uscc).where(u.party_id.in_(part))))
        return out

    def documents(self, wanted: Mapping[str, Sequence[str]]) -> list[DocumentLine]:
        d = t.documents.c
        pairs = [(doc_type, part) for doc_type, numbers in wanted.items() for part in _batches(numbers)]
        out: list[DocumentLine] = []
        # Types are OR-ed into one statement while the lists are short enough together.
        while pairs:
            group: list[Any] = []
            size = 0
            while pairs and (not group or size + len(pairs[0][1]) <= MAX_IN):
                doc_type, part = pairs.pop(0)
                group.append(and_(d.type == doc_type, d.number.in_(part)))
                size += len(part)
            stmt = select(d.type, d.number, d.fields).where(or_(*group))
            out.extend(DocumentLine(*r) for r in self.conn.execute(stmt))
        return out

    def invoice_uses(self, numbers: Sequence[str]) -> list[InvoiceUseRecord]:
        u = t.invoice_uses.c
        out: list[InvoiceUseRecord] = []
        for part in _batches(numbers):
            stmt = (
                select(u.invoice_number, u.use_id, u.kind, u.amount_minor, u.currency)
                .where(u.invoice_number.in_(part), u.released_event.is_(None))
                .order_by(u.invoice_number, u.created_event, u.use_id)
            )
            out.extend(InvoiceUseRecord(*r) for r in self.conn.execute(stmt))
        return out

    def overdue_obligors(self, ids: Sequence[str], today: date) -> set[str]:
        p, v = t.parties.c, t.vouchers.c
        active_late = and_(v.status == VoucherStatus.ACTIVE.value, v.maturity < today)
        late = exists().where(v.obligor_id == p.id, (v.status == VoucherStatus.OVERDUE.value) | active_late)
        out: set[str] = set()
        for part in _batches(ids):
            out.update(self.conn.execute(select(p.id).where(p.id.in_(part), late)).scalars())
        return out


@contextmanager
def asset_reads(engine: Engine) -> Iterator[SqlAssetReads]:
    """A read model over one consistent, read-only snapshot of the platform, for one review."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        else:
            conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield SqlAssetReads(conn)
