"""SQL read model behind ``tierflow.services.queries``: listings with cursor pagination, and provenance
as one recursive query up the parent chain."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import Engine, exists, or_, select, text

from tierflow.domain.money import Money
from tierflow.services.queries import Page
from tierflow.store import schema as t
from tierflow.store.engine import READ_ONLY


def _money(minor: int, currency: str) -> dict[str, str]:
    return {"amount": Money(minor, currency).to_str(), "currency": currency}


def _voucher(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "obligor": row.obligor_id,
        "first_holder": row.first_holder_id,
        "face": _money(row.face_minor, row.currency),
        "units": {"start": 1, "end": row.face_minor},
        "issue_date": row.issue_date.isoformat(),
        "maturity": row.maturity.isoformat(),
        "contract_ref": row.contract_ref,
        "invoice_refs": json.loads(row.invoice_refs),
        "split_count": row.split_count,
        "status": row.status,
        "issued_event": row.issued_event,
    }


def _holding(row: Any, currency: str | None = None) -> dict[str, Any]:
    count = row.end_unit - row.start_unit + 1
    out = {
        "id": row.id,
        "voucher_id": row.voucher_id,
        "units": {"start": row.start_unit, "end": row.end_unit},
        "holder": row.holder_id,
        "tier": row.tier,
        "parent_id": row.parent_id,
        "status": row.status,
        "created_event": row.created_event,
        "closed_event": row.closed_event,
    }
    if currency is not None:
        out["amount"] = _money(count, currency)
    return out


def _offer(row: Any, currency: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "voucher_id": row.voucher_id,
        "holding_id": row.holding_id,
        "source_holding_id": row.source_holding_id,
        "sender": row.sender_id,
        "recipient": row.recipient_id,
        "amount": _money(row.units, currency),
        "trade_ref": row.trade_ref,
        "invoice_refs": json.loads(row.invoice_refs),
        "expires_at": row.expires_at,
        "status": row.status,
        "created_event": row.created_event,
        "resolved_event": row.resolved_event,
    }


def _financing(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "voucher_id": row.voucher_id,
        "holding_id": row.holding_id,
        "funded_holding_id": row.funded_holding_id,
        "applicant": row.applicant_id,
        "financier": row.financier_id,
        "amount": _money(row.amount_minor, row.currency),
        "annual_rate": row.annual_rate,
        "basis": row.basis,
        "value_date": row.value_date.isoformat(),
        "maturity": row.maturity.isoformat(),
        "days": row.days,
        "discount": _money(row.discount_minor, row.currency),
        "fee": _money(row.fee_minor, row.currency),
        "net": _money(row.net_minor, row.currency),
        "status": row.status,
        "created_event": row.created_event,
        "resolved_event": row.resolved_event,
    }


def _page(rows: list[Any], limit: int, convert: Any) -> Page:
    return Page([convert(r) for r in rows[:limit]], len(rows) > limit)


class SqlReadModel:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _rows(self, stmt: Any, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            return list(conn.execute(stmt, params))

    def _first(self, stmt: Any) -> Any:
        rows = self._rows(stmt)
        return rows[0] if rows else None

    def _currency(self, voucher_id: str) -> str:
        row = self._first(select(t.vouchers.c.currency).where(t.vouchers.c.id == voucher_id))
        return str(row.currency) if row else "CNY"

    # parties

    def party(self, party_id: str) -> dict[str, Any] | None:
        row = self._first(select(t.parties).where(t.parties.c.id == party_id))
        return _party(row) if row else None

    def parties(self, *, role: str | None, limit: int, after: str | None) -> Page:
        p = t.parties.c
        stmt = select(t.parties).order_by(p.id).limit(limit + 1)
        if role:
            stmt = stmt.where(p.role == role)
        if after:
            stmt = stmt.where(p.id > after)
        return _page(self._rows(stmt), limit, _party)

    # vouchers

    def voucher(self, voucher_id: str) -> dict[str, Any] | None:
        row = self._first(select(t.vouchers).where(t.vouchers.c.id == voucher_id))
        return _voucher(row) if row else None

    def vouchers(self, *, viewer: str | None, limit: int, after: str | None) -> Page:
        v = t.vouchers.c
        stmt = select(t.vouchers).order_by(v.id).limit(limit + 1)
        if viewer is not None:
            held = exists().where(t.holdings.c.voucher_id == v.id, t.holdings.c.holder_id == viewer)
            stmt = stmt.where(or_(v.obligor_id == viewer, held))
        if after:
            stmt = stmt.where(v.id > after)
        return _page(self._rows(stmt), limit, _voucher)

    def has_held(self, party_id: str, voucher_id: str) -> bool:
        h = t.holdings.c
        row = self._first(select(exists().where(h.voucher_id == voucher_id, h.holder_id == party_id)))
        return bool(row[0])

    # holdings

    def holding(self, holding_id: str) -> dict[str, Any] | None:
        row = self._first(
            select(t.holdings, t.vouchers.c.currency)
            .join(t.vouchers, t.vouchers.c.id == t.holdings.c.voucher_id)
            .where(t.holdings.c.id == holding_id)
        )
        return _holding(row, row.currency) if row else None

    def holdings(
        self, *, holder: str | None, voucher_id: str | None, status: str | None, limit: int, after: str | None
    ) -> Page:
        h = t.holdings.c
        stmt = (
            select(t.holdings, t.vouchers.c.currency, t.vouchers.c.obligor_id, t.vouchers.c.maturity)
            .join(t.vouchers, t.vouchers.c.id == h.voucher_id)
            .order_by(h.id)
            .limit(limit + 1)
        )
        if holder is not None:
            stmt = stmt.where(h.holder_id == holder)
        if voucher_id is not None:
            stmt = stmt.where(h.voucher_id == voucher_id)
        # Without a status filter, only current holdings (history stays reachable through provenance).
        stmt = stmt.where(h.status == status) if status is not None else stmt.where(h.status != "superseded")
        if after:
            stmt = stmt.where(h.id > after)

        def convert(row: Any) -> dict[str, Any]:
            return {**_holding(row, row.currency), "obligor": row.obligor_id, "maturity": row.maturity.isoformat()}

        return _page(self._rows(stmt), limit, convert)

    def financier_of(self, holding_id: str) -> set[str]:
        f = t.financings.c
        return {r.financier_id for r in self._rows(select(f.financier_id).where(f.holding_id == holding_id))}

    def chain(self, holding_id: str) -> list[dict[str, Any]]:
        """The holding and all its ancestors, root first, each with the journal entry that created it."""
        sql = text(
            """
            WITH RECURSIVE chain(id, parent_id, depth) AS (
                SELECT id, parent_id, 0 FROM holdings WHERE id = :holding_id
                UNION ALL
                SELECT h.id, h.parent_id, c.depth + 1 FROM holdings h JOIN chain c ON h.id = c.parent_id
            )
            SELECT h.*, c.depth, p.name AS holder_name, e.kind AS event_kind, e.leaf_index AS leaf_index,
                   o.trade_ref AS trade_ref, o.invoice_refs AS offer_invoices, v.contract_ref AS contract_ref,
                   v.invoice_refs AS voucher_invoices, v.currency AS currency
            FROM chain c
            JOIN holdings h ON h.id = c.id
            JOIN parties p ON p.id = h.holder_id
            JOIN vouchers v ON v.id = h.voucher_id
            JOIN events e ON e.id = h.created_event
            LEFT JOIN offers o ON o.holding_id = h.id
            ORDER BY c.depth DESC
            """
        )
        out = []
        for row in self._rows(sql, holding_id=holding_id):
            link = _holding(row, row.currency)
            link["holder_name"] = row.holder_name
            link["event_kind"] = row.event_kind
            link["leaf_index"] = row.leaf_index
            if row.trade_ref is not None:
                link["trade_ref"] = row.trade_ref
                link["invoice_refs"] = json.loads(row.offer_invoices)
            elif row.parent_id is None:
                link["trade_ref"] = row.contract_ref
                link["invoice_refs"] = json.loads(row.voucher_invoices)
            out.append(link)
        return out

    def holding_at_unit(self, voucher_id: str, unit: int) -> str | None:
        h = t.holdings.c
        stmt = (
            select(h.id, h.end_unit)
            .where(h.voucher_id == voucher_id, h.status != "superseded", h.start_unit <= unit)
            .order_by(h.start_unit.desc())
            .limit(1)
        )
        row = self._first(stmt)
        return str(row.id) if row is not None and row.end_unit >= unit else None

    # offers and financings

    def offer(self, offer_id: str) -> dict[str, Any] | None:
        row = self._first(
            select(t.offers, t.vouchers.c.currency)
            .join(t.vouchers, t.vouchers.c.id == t.offers.c.voucher_id)
            .where(t.offers.c.id == offer_id)
        )
        return _offer(row, row.currency) if row else None

    def offers(self, *, party: str | None, role: str, status: str | None, limit: int, after: str | None) -> Page:
        o = t.offers.c
        stmt = (
            select(t.offers, t.vouchers.c.currency)
            .join(t.vouchers, t.vouchers.c.id == o.voucher_id)
            .order_by(o.id)
            .limit(limit + 1)
        )
        if party is not None:
            if role == "incoming":
                stmt = stmt.where(o.recipient_id == party)
            elif role == "outgoing":
                stmt = stmt.where(o.sender_id == party)
            else:
                stmt = stmt.where(or_(o.recipient_id == party, o.sender_id == party))
        if status:
            stmt = stmt.where(o.status == status)
        if after:
            stmt = stmt.where(o.id > after)
        return _page(self._rows(stmt), limit, lambda r: _offer(r, r.currency))

    def financing(self, financing_id: str) -> dict[str, Any] | None:
        row = self._first(select(t.financings).where(t.financings.c.id == financing_id))
        return _financing(row) if row else None

    def financings(self, *, party: str | None, status: str | None, limit: int, after: str | None) -> Page:
        f = t.financings.c
        stmt = select(t.financings).order_by(f.id).limit(limit + 1)
        if party is not None:
            stmt = stmt.where(or_(f.applicant_id == party, f.financier_id == party))
        if status:
            stmt = stmt.where(f.status == status)
        if after:
            stmt = stmt.where(f.id > after)
        return _page(self._rows(stmt), limit, _financing)

    def settlements(self, voucher_id: str) -> list[dict[str, Any]]:
        s = t.settlements.c
        currency = self._currency(voucher_id)
        rows = self._rows(select(t.settlements).where(s.voucher_id == voucher_id).order_by(s.id))
        out = []
        for row in rows:
            pays = self._rows(
                select(t.settlement_payments)
                .where(t.settlement_payments.c.settlement_id == row.id)
                .order_by(t.settlement_payments.c.holding_id)
            )
            out.append(
                {
                    "id": row.id,
                    "voucher_id": row.voucher_id,
                    "obligor": row.obligor_id,
                    "paid": _money(row.paid_minor, currency),
                    "overdue": _money(row.overdue_minor, currency),
                    "value_date": row.value_date.isoformat(),
                    "created_event": row.created_event,
                    "payments": [
                        {"holding_id": p.holding_id, "holder": p.holder_id, **_money(p.amount_minor, currency)}
                        for p in pays
                    ],
                }
            )
        return out

    def event(self, event_id: str) -> dict[str, Any] | None:
        e = t.events.c
        row = self._first(select(e.id, e.kind, e.actor_id, e.at, e.leaf_index, e.leaf).where(e.id == event_id))
        if row is None:
            return None
        return {
            "id": row.id,
            "kind": row.kind,
            "actor": row.actor_id,
            "at": row.at,
            "leaf_index": row.leaf_index,
            "leaf": base64.b64encode(bytes(row.leaf)).decode(),
        }

    def event_concerns(self, event_id: str) -> set[str]:
        p = t.event_parties.c
        return {r.party_id for r in self._rows(select(p.party_id).where(p.event_id == event_id))}


def _party(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "public_key": base64.b64encode(bytes(row.public_key)).decode(),
        "registered_event": row.registered_event,
    }


__all__ = ["SqlReadModel"]


def genesis_command(engine: Engine) -> dict[str, Any] | None:
    """The command of the journal's first entry (the operator's self-registration, carrying the policy)."""
    with engine.connect() as conn:
        row = conn.execute(select(t.events.c.leaf).order_by(t.events.c.seq).limit(1)).first()
    if row is None:
        return None
    command: dict[str, Any] = json.loads(bytes(row.leaf))["command"]
    return command
