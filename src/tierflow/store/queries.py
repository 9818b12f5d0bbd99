"""SQL read model behind ``tierflow.services.queries``: listings with cursor pagination, and provenance
as one recursive query up the parent chain.

The portal's views (payables by maturity, tiers, wallet, queue, portfolio, history, journal overview) are each
one aggregate statement (GROUP BY and joins, names joined in), or a few of them over one connection: nothing is
looked up row by row. Amounts are integer minor units; the sums come back as ``int`` (PostgreSQL's SUM of a
BIGINT is NUMERIC, turned back into an exact ``int`` here). Listings page with a cursor (``limit + 1`` rows
read, the extra one only saying that there is more); composite orders have their cursor in each item's
``cursor``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, String, and_, case, exists, func, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from tierflow.domain.errors import DomainError
from tierflow.domain.money import Money
from tierflow.services.errors import InvalidCommand, NotFound
from tierflow.services.queries import Page
from tierflow.store import schema as t
from tierflow.store.engine import READ_ONLY

# Holding statuses as the portal's figures group them. "Outstanding" is owed and not (yet) late; with
# "overdue" and "settled" it partitions the current (non-superseded) holdings, hence the voucher's face.
OUTSTANDING = ("live", "offered", "encumbered", "frozen")
UNPAID = (*OUTSTANDING, "overdue")


class month_of(FunctionElement[str]):
    """``YYYY-MM`` of a DATE column, computed by the database.

    Months are bucketed in SQL so that the GROUP BY returns one row per month (and currency) whatever the number
    of vouchers; the expression is chosen per dialect when the statement is compiled (no bound parameter, so the
    SELECT and GROUP BY expressions are identical text, as PostgreSQL requires): ``to_char`` on PostgreSQL;
    elsewhere (SQLite) DATE is stored as ISO ``YYYY-MM-DD`` text, whose first seven characters are the month.
    """

    type = String()
    name = "month_of"
    inherit_cache = True


@compiles(month_of)
def _month_of_iso_text(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 7)"


@compiles(month_of, "postgresql")
def _month_of_postgresql(element: month_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


def _int(value: Any) -> int:
    """An exact ``int`` from a COUNT or SUM (``None`` for an empty SUM, ``Decimal`` on PostgreSQL)."""
    return int(value or 0)


def _units(h: Any) -> Any:
    return h.end_unit - h.start_unit + 1


def _sum_units(h: Any, statuses: tuple[str, ...] | None = None) -> Any:
    if statuses is None:
        return func.sum(_units(h))
    return func.sum(case((h.status.in_(statuses), _units(h)), else_=0))


def _cursor(*parts: object) -> str:
    return "~".join(str(p) for p in parts)


def _date_cursor(after: str) -> tuple[date, str]:
    """A ``YYYY-MM-DD~id`` cursor (a page ordered by a date, then by id)."""
    day, sep, row_id = after.partition("~")
    try:
        if not sep or not row_id:
            raise ValueError(after)
        return date.fromisoformat(day), row_id
    except ValueError:
        raise InvalidCommand("The page cursor is not one this listing gave out.", cursor=after[:80]) from None


def _seq_cursor(before: str) -> int:
    try:
        return int(before)
    except ValueError:
        raise InvalidCommand("The page cursor is not one this listing gave out.", cursor=before[:80]) from None


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


def _offer_named(row: Any) -> dict[str, Any]:
    return {
        **_offer(row, row.currency),
        "amount_minor": int(row.units),
        "currency": row.currency,
        "sender_name": row.sender_name,
        "recipient_name": row.recipient_name,
        "obligor": row.obligor_id,
        "obligor_name": row.obligor_name,
        "maturity": row.maturity.isoformat(),
    }


def _document(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "number": row.number,
        "registered_by": row.registered_by,
        "seller": row.seller_id,
        "buyer": row.buyer_id,
        "fields": json.loads(row.fields),
        "content_hash": row.content_hash,
        "source": row.source,
        "registered_event": row.created_event,
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

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One read-only connection for the few statements of one view (one snapshot on SQLite)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn

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

    # trade documents

    def document(self, document_id: str) -> dict[str, Any] | None:
        row = self._first(select(t.documents).where(t.documents.c.id == document_id))
        return _document(row) if row else None

    def documents(
        self, *, viewer: str | None, doc_type: str | None, number: str | None, limit: int, after: str | None
    ) -> Page:
        d = t.documents.c
        stmt = select(t.documents).order_by(d.id).limit(limit + 1)
        if viewer is not None:
            stmt = stmt.where(or_(d.registered_by == viewer, d.seller_id == viewer, d.buyer_id == viewer))
        if doc_type is not None:
            stmt = stmt.where(d.type == doc_type)
        if number is not None:
            stmt = stmt.where(d.number == number)
        if after:
            stmt = stmt.where(d.id > after)
        return _page(self._rows(stmt), limit, _document)

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

    @staticmethod
    def _offers_named() -> Any:
        o = t.offers.c
        v = t.vouchers.c
        sender, recipient, obligor = t.parties.alias("sender"), t.parties.alias("recipient"), t.parties.alias("obligor")
        return (
            select(
                t.offers,
                v.currency,
                v.obligor_id,
                v.maturity,
                sender.c.name.label("sender_name"),
                recipient.c.name.label("recipient_name"),
                obligor.c.name.label("obligor_name"),
            )
            .join(t.vouchers, v.id == o.voucher_id)
            .join(sender, sender.c.id == o.sender_id)
            .join(recipient, recipient.c.id == o.recipient_id)
            .join(obligor, obligor.c.id == v.obligor_id)
        )

    def offer(self, offer_id: str) -> dict[str, Any] | None:
        row = self._first(self._offers_named().where(t.offers.c.id == offer_id))
        return _offer_named(row) if row else None

    def offers(self, *, party: str | None, role: str, status: str | None, limit: int, after: str | None) -> Page:
        o = t.offers.c
        stmt = self._offers_named().order_by(o.id).limit(limit + 1)
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
        return _page(self._rows(stmt), limit, _offer_named)

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

    # --- portal views: a core enterprise's payables --------------------------------------------------------

    def maturity_ladder(self, obligor_id: str) -> list[dict[str, Any]]:
        """Per maturity month and currency of the obligor's vouchers: outstanding, overdue and paid units of the
        current holdings (together: the faces of the month's vouchers), and the number of vouchers."""
        h, v = t.holdings.c, t.vouchers.c
        month = month_of(v.maturity)
        stmt = (
            select(
                month.label("month"),
                v.currency,
                _sum_units(h, OUTSTANDING).label("outstanding"),
                _sum_units(h, ("overdue",)).label("overdue"),
                _sum_units(h, ("settled",)).label("paid"),
                _sum_units(h).label("face"),
                func.count(func.distinct(v.id)).label("vouchers"),
            )
            .select_from(t.vouchers.join(t.holdings, h.voucher_id == v.id))
            .where(v.obligor_id == obligor_id, h.status != "superseded")
            .group_by(month, v.currency)
            .order_by(month, v.currency)
        )
        return [
            {
                "month": row.month,
                "currency": row.currency,
                "outstanding_minor": _int(row.outstanding),
                "overdue_minor": _int(row.overdue),
                "paid_minor": _int(row.paid),
                "face_minor": _int(row.face),
                "vouchers": _int(row.vouchers),
            }
            for row in self._rows(stmt)
        ]

    def tier_travel(self, obligor_id: str) -> list[dict[str, Any]]:
        """Per tier (and currency): the unpaid units of the obligor's vouchers held there now, and by how many
        distinct parties (a financial institution that bought units counts at the tier it bought them at)."""
        h, v = t.holdings.c, t.vouchers.c
        stmt = (
            select(
                h.tier,
                v.currency,
                _sum_units(h).label("amount"),
                func.count(func.distinct(h.holder_id)).label("holders"),
            )
            .select_from(t.vouchers.join(t.holdings, h.voucher_id == v.id))
            .where(v.obligor_id == obligor_id, h.status.in_(UNPAID))
            .group_by(h.tier, v.currency)
            .order_by(h.tier, v.currency)
        )
        return [
            {"tier": row.tier, "currency": row.currency, "amount_minor": _int(row.amount), "holders": _int(row.holders)}
            for row in self._rows(stmt)
        ]

    def voucher_reach(self, obligor_id: str, *, limit: int, after: str | None) -> Page:
        """The obligor's vouchers by maturity then id, each with what is outstanding, overdue and paid, the
        deepest tier any of its holdings ever reached and how many parties ever held a part of it."""
        v, h = t.vouchers.c, t.holdings.c
        page_stmt = select(t.vouchers).where(v.obligor_id == obligor_id).order_by(v.maturity, v.id).limit(limit + 1)
        if after:
            day, last_id = _date_cursor(after)
            page_stmt = page_stmt.where(or_(v.maturity > day, and_(v.maturity == day, v.id > last_id)))
        page = page_stmt.cte("page")
        # The aggregate runs over the page's vouchers only (at most limit + 1 of them), through the index on
        # holdings (voucher_id, ...), not over every holding of the obligor.
        agg = (
            select(
                h.voucher_id,
                func.max(h.tier).label("deepest_tier"),
                func.count(func.distinct(h.holder_id)).label("holders_ever"),
                func.count().label("holdings_ever"),
                _sum_units(h, OUTSTANDING).label("outstanding"),
                _sum_units(h, ("overdue",)).label("overdue"),
                _sum_units(h, ("settled",)).label("paid"),
            )
            .where(h.voucher_id.in_(select(page.c.id)))
            .group_by(h.voucher_id)
            .subquery("agg")
        )
        first = t.parties.alias("first_holder")
        stmt = (
            select(page, agg, first.c.name.label("first_holder_name"))
            .join(agg, agg.c.voucher_id == page.c.id)
            .join(first, first.c.id == page.c.first_holder_id)
            .order_by(page.c.maturity, page.c.id)
        )

        def convert(row: Any) -> dict[str, Any]:
            return {
                "id": row.id,
                "cursor": _cursor(row.maturity.isoformat(), row.id),
                "contract_ref": row.contract_ref,
                "invoice_refs": json.loads(row.invoice_refs),
                "issue_date": row.issue_date.isoformat(),
                "maturity": row.maturity.isoformat(),
                "status": row.status,
                "currency": row.currency,
                "face_minor": int(row.face_minor),
                "outstanding_minor": _int(row.outstanding),
                "overdue_minor": _int(row.overdue),
                "paid_minor": _int(row.paid),
                "deepest_tier": _int(row.deepest_tier),
                "holders_ever": _int(row.holders_ever),
                "holdings_ever": _int(row.holdings_ever),
                "first_holder": row.first_holder_id,
                "first_holder_name": row.first_holder_name,
            }

        return _page(self._rows(stmt), limit, convert)

    def voucher_tiers(self, voucher_id: str, *, limit: int) -> dict[str, Any]:
        """One voucher: the amounts per tier of its current holdings (paid ones included, so that they add up to
        the face), and the nodes of its provenance graph: every holding it ever had, in the order the journal
        created them (parents before children), at most ``limit``."""
        v, h, e = t.vouchers.c, t.holdings.c, t.events.c
        obligor, holder = t.parties.alias("obligor"), t.parties.alias("holder")
        with self._read() as conn:
            head = conn.execute(
                select(v.id, v.obligor_id, v.currency, v.face_minor, obligor.c.name.label("obligor_name"))
                .join(obligor, obligor.c.id == v.obligor_id)
                .where(v.id == voucher_id)
            ).first()
            if head is None:
                raise NotFound(f"No voucher {voucher_id!r}.", voucher_id=voucher_id)
            tiers = conn.execute(
                select(
                    h.tier,
                    _sum_units(h).label("amount"),
                    _sum_units(h, ("settled",)).label("settled"),
                    func.count(func.distinct(h.holder_id)).label("holders"),
                )
                .where(h.voucher_id == voucher_id, h.status != "superseded")
                .group_by(h.tier)
                .order_by(h.tier)
            ).all()
            nodes = conn.execute(
                select(
                    h.id,
                    h.holder_id,
                    holder.c.name.label("holder_name"),
                    h.tier,
                    h.start_unit,
                    h.end_unit,
                    h.status,
                    h.parent_id,
                    h.created_event,
                )
                .join(holder, holder.c.id == h.holder_id)
                .join(t.events, e.id == h.created_event)
                .where(h.voucher_id == voucher_id)
                .order_by(e.seq, h.id)
                .limit(limit + 1)
            ).all()
        currency = str(head.currency)
        return {
            "voucher_id": head.id,
            "obligor": head.obligor_id,
            "obligor_name": head.obligor_name,
            "currency": currency,
            "face_minor": int(head.face_minor),
            "tiers": [
                {
                    "tier": row.tier,
                    "currency": currency,
                    "amount_minor": _int(row.amount),
                    "settled_minor": _int(row.settled),
                    "unpaid_minor": _int(row.amount) - _int(row.settled),
                    "holders": _int(row.holders),
                }
                for row in tiers
            ],
            "nodes": [
                {
                    "id": row.id,
                    "holder": row.holder_id,
                    "holder_name": row.holder_name,
                    "tier": row.tier,
                    "units": {"start": row.start_unit, "end": row.end_unit},
                    "amount_minor": int(row.end_unit - row.start_unit + 1),
                    "currency": currency,
                    "status": row.status,
                    "parent_id": row.parent_id,
                    "created_event": row.created_event,
                }
                for row in nodes[:limit]
            ],
            "truncated": len(nodes) > limit,
        }

    # --- portal views: a wallet, a bank's queue and portfolio ------------------------------------------

    def wallet(self, *, holder: str | None, status: str | None, limit: int, after: str | None) -> dict[str, Any]:
        """Holdings by maturity then id (current ones, or those of ``status``), with the obligor's name, and the
        totals per status and currency of all the current holdings (whatever ``status`` shows)."""
        h, v = t.holdings.c, t.vouchers.c
        obligor, holder_party = t.parties.alias("obligor"), t.parties.alias("holder")
        stmt = (
            select(
                t.holdings,
                v.currency,
                v.obligor_id,
                v.maturity,
                v.contract_ref,
                obligor.c.name.label("obligor_name"),
                holder_party.c.name.label("holder_name"),
            )
            .join(t.vouchers, v.id == h.voucher_id)
            .join(obligor, obligor.c.id == v.obligor_id)
            .join(holder_party, holder_party.c.id == h.holder_id)
            .order_by(v.maturity, h.id)
            .limit(limit + 1)
        )
        totals = (
            select(h.status, v.currency, _sum_units(h).label("amount"), func.count().label("count"))
            .join(t.vouchers, v.id == h.voucher_id)
            .where(h.status != "superseded")
            .group_by(h.status, v.currency)
            .order_by(h.status, v.currency)
        )
        if holder is not None:
            stmt = stmt.where(h.holder_id == holder)
            totals = totals.where(h.holder_id == holder)
        stmt = stmt.where(h.status == status) if status is not None else stmt.where(h.status != "superseded")
        if after:
            day, last_id = _date_cursor(after)
            stmt = stmt.where(or_(v.maturity > day, and_(v.maturity == day, h.id > last_id)))
        with self._read() as conn:
            rows = list(conn.execute(stmt))
            sums = list(conn.execute(totals))

        def convert(row: Any) -> dict[str, Any]:
            return {
                **_holding(row, row.currency),
                "cursor": _cursor(row.maturity.isoformat(), row.id),
                "amount_minor": int(row.end_unit - row.start_unit + 1),
                "currency": row.currency,
                "holder_name": row.holder_name,
                "obligor": row.obligor_id,
                "obligor_name": row.obligor_name,
                "maturity": row.maturity.isoformat(),
                "contract_ref": row.contract_ref,
            }

        page = _page(rows, limit, convert)
        return {
            "items": page.items,
            "has_more": page.has_more,
            "next_after": page.items[-1]["cursor"] if page.has_more and page.items else None,
            "totals": [
                {"status": r.status, "currency": r.currency, "amount_minor": _int(r.amount), "count": _int(r.count)}
                for r in sums
            ],
        }

    def financing_queue(self, *, financier: str | None, status: str | None, limit: int, after: str | None) -> Page:
        """Financings (of ``financier``, of ``status``) oldest first, with the names, the financed holding's tier
        (= the hops from the obligor), the voucher's contract and invoices, and whether the obligor has overdue
        units today."""
        f, h, v = t.financings.c, t.holdings.c, t.vouchers.c
        applicant, fin, obligor = t.parties.alias("applicant"), t.parties.alias("fin"), t.parties.alias("obligor")
        ov, oh = t.vouchers.alias("ov"), t.holdings.alias("oh")
        # Overdue holdings exist only on vouchers whose status is overdue (settle and unfreeze make it so), so
        # the probe starts from the obligor's overdue vouchers (index on vouchers.obligor_id) and stops at the
        # first overdue holding found.
        overdue = (
            exists()
            .where(
                ov.c.obligor_id == v.obligor_id,
                ov.c.status == "overdue",
                oh.c.voucher_id == ov.c.id,
                oh.c.status == "overdue",
            )
            .correlate(t.vouchers)
        )
        stmt = (
            select(
                t.financings,
                h.tier.label("tier"),
                h.status.label("holding_status"),
                v.obligor_id.label("obligor_id"),
                v.contract_ref.label("contract_ref"),
                v.invoice_refs.label("voucher_invoice_refs"),
                applicant.c.name.label("applicant_name"),
                fin.c.name.label("financier_name"),
                obligor.c.name.label("obligor_name"),
                overdue.label("obligor_overdue"),
            )
            .join(t.holdings, h.id == f.holding_id)
            .join(t.vouchers, v.id == f.voucher_id)
            .join(applicant, applicant.c.id == f.applicant_id)
            .join(fin, fin.c.id == f.financier_id)
            .join(obligor, obligor.c.id == v.obligor_id)
            .order_by(f.id)
            .limit(limit + 1)
        )
        if financier is not None:
            stmt = stmt.where(f.financier_id == financier)
        if status:
            stmt = stmt.where(f.status == status)
        if after:
            stmt = stmt.where(f.id > after)

        def convert(row: Any) -> dict[str, Any]:
            return {
                **_financing(row),
                "cursor": row.id,
                "amount_minor": int(row.amount_minor),
                "currency": row.currency,
                "discount_minor": int(row.discount_minor),
                "fee_minor": int(row.fee_minor),
                "net_minor": int(row.net_minor),
                "applicant_name": row.applicant_name,
                "financier_name": row.financier_name,
                "obligor": row.obligor_id,
                "obligor_name": row.obligor_name,
                "obligor_overdue": bool(row.obligor_overdue),
                "tier": row.tier,
                "chain_length": row.tier,
                "holding_status": row.holding_status,
                "contract_ref": row.contract_ref,
                "invoice_refs": json.loads(row.voucher_invoice_refs),
            }

        return _page(self._rows(stmt), limit, convert)

    def portfolio(self, holder: str) -> dict[str, Any]:
        """The unpaid holdings of ``holder`` (a financial institution's bought units) per obligor, currency and
        maturity month, with totals per obligor and per currency."""
        h, v = t.holdings.c, t.vouchers.c
        obligor = t.parties.alias("obligor")
        month = month_of(v.maturity)
        stmt = (
            select(
                v.obligor_id,
                obligor.c.name.label("obligor_name"),
                v.currency,
                month.label("month"),
                _sum_units(h).label("amount"),
                _sum_units(h, ("overdue",)).label("overdue"),
                func.count().label("count"),
            )
            .select_from(t.holdings.join(t.vouchers, v.id == h.voucher_id).join(obligor, obligor.c.id == v.obligor_id))
            .where(h.holder_id == holder, h.status.in_(UNPAID))
            .group_by(v.obligor_id, obligor.c.name, v.currency, month)
            .order_by(obligor.c.name, v.obligor_id, v.currency, month)
        )
        with self._read() as conn:
            name = conn.execute(select(t.parties.c.name).where(t.parties.c.id == holder)).scalar()
            rows = conn.execute(stmt).all()
        cells = [
            {
                "obligor": r.obligor_id,
                "obligor_name": r.obligor_name,
                "currency": r.currency,
                "month": r.month,
                "amount_minor": _int(r.amount),
                "overdue_minor": _int(r.overdue),
                "count": _int(r.count),
            }
            for r in rows
        ]
        # The totals fold the grouped rows above (a few per obligor), not the holdings: exact, and no second scan.
        per_obligor: dict[tuple[str, str], dict[str, Any]] = {}
        per_currency: dict[str, dict[str, Any]] = {}
        for cell in cells:
            key = (cell["obligor"], cell["currency"])
            o = per_obligor.setdefault(
                key,
                {
                    "obligor": cell["obligor"],
                    "obligor_name": cell["obligor_name"],
                    "currency": cell["currency"],
                    "amount_minor": 0,
                    "overdue_minor": 0,
                    "count": 0,
                },
            )
            c = per_currency.setdefault(
                cell["currency"], {"currency": cell["currency"], "amount_minor": 0, "overdue_minor": 0, "count": 0}
            )
            for total in (o, c):
                total["amount_minor"] += cell["amount_minor"]
                total["overdue_minor"] += cell["overdue_minor"]
                total["count"] += cell["count"]
        obligors = sorted(
            per_obligor.values(), key=lambda o: (-o["amount_minor"], str(o["obligor_name"]), o["obligor"])
        )
        return {
            "financier": holder,
            "financier_name": name,
            "rows": cells,
            "obligors": obligors,
            "totals": sorted(per_currency.values(), key=lambda c: str(c["currency"])),
        }

    # --- portal views: the journal -------------------------------------------------------------------------

    def history(self, *, party: str | None, limit: int, before: str | None) -> Page:
        """Journal entries newest first (queue order, ``seq``), those concerning ``party`` (all when None), each
        with the actor's name and ``details``: the facts of its command (amount, counterparty, ids) read from its
        leaf, the counterparties' names and the offers' and financings' facts fetched for the whole page at once."""
        e = t.events.c
        # The page's seqs first (sorting bare integers, from the index on event_parties for a party), then the
        # leaves of those rows only: sorting the party's entries with their leaves would carry every leaf.
        page = select(e.seq).order_by(e.seq.desc()).limit(limit + 1)
        if party is not None:
            ep = t.event_parties.c
            page = page.join(t.event_parties, ep.event_id == e.id).where(ep.party_id == party)
        if before:
            page = page.where(e.seq < _seq_cursor(before))
        seqs = page.subquery("page")
        actor = t.parties.alias("actor")
        stmt = (
            select(e.seq, e.id, e.kind, e.actor_id, e.at, e.leaf_index, e.leaf, actor.c.name.label("actor_name"))
            .select_from(t.events.join(seqs, seqs.c.seq == e.seq).outerjoin(actor, actor.c.id == e.actor_id))
            .order_by(e.seq.desc())
        )
        with self._read() as conn:
            rows = list(conn.execute(stmt))
            decoded = [(row, _leaf_details(row.kind, bytes(row.leaf))) for row in rows[:limit]]
            _name_counterparties(conn, [d for _, d in decoded])
            _add_offer_facts(conn, [d for _, d in decoded])
            _add_financing_facts(conn, [d for _, d in decoded])
        items = [
            {
                "id": row.id,
                "seq": int(row.seq),
                "cursor": str(row.seq),
                "kind": row.kind,
                "at": row.at,
                "actor": row.actor_id,
                "actor_name": row.actor_name,
                "leaf_index": None if row.leaf_index is None else int(row.leaf_index),
                "details": details,
            }
            for row, details in decoded
        ]
        return Page(items, len(rows) > limit)

    def journal_overview(self, *, limit: int, before: str | None, checkpoints: int) -> dict[str, Any]:
        """The latest entries (as ``history`` for everyone), the latest checkpoints with their number of witness
        cosignatures, and counts. The number integrated is the tree's size (one row); the entries not yet
        integrated are counted through the partial index on pending entries, so no count scans the journal."""
        page = self.history(party=None, limit=limit, before=before)
        c, cs, e = t.checkpoints.c, t.cosignatures.c, t.events.c
        cosignatures = select(func.count()).select_from(t.cosignatures).where(cs.checkpoint_size == c.size)
        with self._read() as conn:
            counts = conn.execute(
                select(
                    select(t.tree_state.c.size).where(t.tree_state.c.id == 1).scalar_subquery().label("integrated"),
                    select(func.count())
                    .select_from(t.events)
                    .where(e.leaf_index.is_(None))
                    .scalar_subquery()
                    .label("pending"),
                    select(func.count()).select_from(t.checkpoints).scalar_subquery().label("checkpoints"),
                )
            ).one()
            latest = conn.execute(
                select(c.size, c.root, c.signed_at, cosignatures.scalar_subquery().label("cosignatures"))
                .order_by(c.size.desc())
                .limit(checkpoints)
            ).all()
        integrated, pending = _int(counts.integrated), _int(counts.pending)
        return {
            "events": page.items,
            "has_more": page.has_more,
            "next_before": page.items[-1]["cursor"] if page.has_more and page.items else None,
            "checkpoints": [
                {
                    "size": int(r.size),
                    "root": base64.b64encode(bytes(r.root)).decode(),
                    "signed_at": r.signed_at,
                    "cosignatures": _int(r.cosignatures),
                }
                for r in latest
            ],
            "counts": {
                "events": integrated + pending,
                "integrated": integrated,
                "pending": pending,
                "checkpoints": _int(counts.checkpoints),
            },
        }


def _party(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "public_key": base64.b64encode(bytes(row.public_key)).decode(),
        "registered_event": row.registered_event,
    }


# --- journal entries: the facts of a command, for one-line summaries ---------------------------------------

_BODY_FACTS = (
    "voucher_id",
    "holding_id",
    "offer_id",
    "financing_id",
    "freeze_id",
    "trade_ref",
    "contract_ref",
    "maturity",
    "annual_rate",
    "reason",
    "start_unit",
    "end_unit",
    "name",
    "role",
)
_EFFECT_FACTS = (
    "voucher_id",
    "holding_id",
    "offer_id",
    "financing_id",
    "settlement_id",
    "party_id",
    "freeze_id",
    "document_id",
    "type",
    "number",
)
_COUNTERPARTY_FIELDS = ("first_holder", "recipient", "financier")


def _minor(amount: object, currency: object) -> int | None:
    if not isinstance(amount, str) or not isinstance(currency, str):
        return None
    try:
        return Money.parse(amount, currency).minor
    except DomainError:
        return None


def _leaf_details(kind: str, leaf: bytes) -> dict[str, Any]:
    """What a journal entry's command says, as plain facts: ids, references, the amount in minor units and the
    counterparty named in the body (``first_holder``, ``recipient`` or ``financier``)."""
    try:
        entry = json.loads(leaf)
        body = entry["command"]["body"]
        effects = entry.get("effects") or {}
    except (ValueError, KeyError, TypeError):
        return {}
    if not isinstance(body, dict) or not isinstance(effects, dict):
        return {}
    details: dict[str, Any] = {}
    for key in _BODY_FACTS:
        value = body.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            details[key] = value
    for key in _EFFECT_FACTS:
        value = effects.get(key)
        if isinstance(value, str):
            details.setdefault(key, value)
    minor = _minor(body.get("amount"), body.get("currency"))
    if minor is not None:
        details["amount_minor"], details["currency"] = minor, body["currency"]
    for key in _COUNTERPARTY_FIELDS:
        if isinstance(body.get(key), str):
            details["counterparty"] = body[key]
            break
    if kind == "voucher.settle" and "currency" in details:
        overdue = _minor(effects.get("overdue"), details["currency"])
        if overdue is not None:
            details["overdue_minor"] = overdue
    return details


def _name_counterparties(conn: Connection, page: list[dict[str, Any]]) -> None:
    ids = {d["counterparty"] for d in page if "counterparty" in d}
    if not ids:
        return
    p = t.parties.c
    names = {r.id: r.name for r in conn.execute(select(p.id, p.name).where(p.id.in_(sorted(ids))))}
    for d in page:
        if "counterparty" in d:
            d["counterparty_name"] = names.get(d["counterparty"])


def _add_offer_facts(conn: Connection, page: list[dict[str, Any]]) -> None:
    """Accepting, rejecting or expiring an offer names only the offer: its amount and parties come from it."""
    wanted = [d for d in page if "offer_id" in d and "amount_minor" not in d]
    if not wanted:
        return
    o, v = t.offers.c, t.vouchers.c
    sender, recipient = t.parties.alias("sender"), t.parties.alias("recipient")
    stmt = (
        select(
            o.id,
            o.units,
            o.sender_id,
            o.recipient_id,
            v.currency,
            sender.c.name.label("sender_name"),
            recipient.c.name.label("recipient_name"),
        )
        .join(t.vouchers, v.id == o.voucher_id)
        .join(sender, sender.c.id == o.sender_id)
        .join(recipient, recipient.c.id == o.recipient_id)
        .where(o.id.in_(sorted({d["offer_id"] for d in wanted})))
    )
    found = {r.id: r for r in conn.execute(stmt)}
    for d in wanted:
        r = found.get(d["offer_id"])
        if r is not None:
            d.update(
                amount_minor=int(r.units),
                currency=r.currency,
                sender=r.sender_id,
                sender_name=r.sender_name,
                recipient=r.recipient_id,
                recipient_name=r.recipient_name,
            )


def _add_financing_facts(conn: Connection, page: list[dict[str, Any]]) -> None:
    """Funding, declining or cancelling names only the financing: its amount and parties come from it."""
    wanted = [d for d in page if "financing_id" in d and "amount_minor" not in d]
    if not wanted:
        return
    f = t.financings.c
    applicant, financier = t.parties.alias("applicant"), t.parties.alias("financier")
    stmt = (
        select(
            f.id,
            f.amount_minor,
            f.currency,
            f.applicant_id,
            f.financier_id,
            applicant.c.name.label("applicant_name"),
            financier.c.name.label("financier_name"),
        )
        .join(applicant, applicant.c.id == f.applicant_id)
        .join(financier, financier.c.id == f.financier_id)
        .where(f.id.in_(sorted({d["financing_id"] for d in wanted})))
    )
    found = {r.id: r for r in conn.execute(stmt)}
    for d in wanted:
        r = found.get(d["financing_id"])
        if r is not None:
            d.update(
                amount_minor=int(r.amount_minor),
                currency=r.currency,
                applicant=r.applicant_id,
                applicant_name=r.applicant_name,
                financier=r.financier_id,
                financier_name=r.financier_name,
            )


__all__ = ["SqlReadModel"]


def genesis_command(engine: Engine) -> dict[str, Any] | None:
    """The command of the journal's first entry (the operator's self-registration, carrying the policy)."""
    with engine.connect() as conn:
        row = conn.execute(select(t.events.c.leaf).order_by(t.events.c.seq).limit(1)).first()
    if row is None:
        return None
    command: dict[str, Any] = json.loads(bytes(row.leaf))["command"]
    return command
