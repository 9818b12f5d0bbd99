"""SQL store of PACT footprints, clients, tokens, requests and events (``FootprintStore`` of
``tierflow.services.footprints``), over the tables of ``tierflow.store.schema_pact``.

Design overview: each call is one short transaction (reads ``READ_ONLY``). A footprint is stored as its v3 JSON
document plus the columns and key rows the v3 filters need, all lower-cased, so that filtering is SQL on both
databases: one ``EXISTS`` per many-valued criterion (values OR-ed), conjunctions across criteria, and the
effective validity period compared as fixed-width UTC text. Pages are ordered by publication time and id.
Answering a request and queueing its outgoing event happen in one transaction, guarded on the request still
being pending.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from tierflow.green.pact import ProductFootprint, deprecated
from tierflow.services.footprints import (
    FootprintFilter,
    FootprintRequest,
    OutgoingEvent,
    PactClient,
    StoredFootprint,
    criteria_from_json,
    criteria_to_json,
)
from tierflow.store import schema_pact as t
from tierflow.store.engine import READ_ONLY


def ts(moment: datetime) -> str:
    """Fixed-width UTC text (``2026-01-05T09:00:00.000000Z``): compares like the moment it names."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _lower(values: Sequence[str]) -> list[str]:
    return [v.lower() for v in values]


def _keys(footprint: ProductFootprint) -> set[tuple[str, str]]:
    keys = {("product", v.lower()) for v in footprint.product_ids}
    keys |= {("company", v.lower()) for v in footprint.company_ids}
    keys |= {("classification", v.lower()) for v in footprint.product_classifications or ()}
    return keys


def _row(footprint: ProductFootprint) -> dict[str, Any]:
    start, end = footprint.validity()
    pcf = footprint.pcf
    return {
        "status": footprint.status.lower(),
        "valid_from": ts(start),
        "valid_to": ts(end),
        "geography_region": pcf.geography_region_or_subregion.lower() if pcf.geography_region_or_subregion else None,
        "geography_country": pcf.geography_country.lower() if pcf.geography_country else None,
        "geography_subdivision": (pcf.geography_country_subdivision.lower()
                                  if pcf.geography_country_subdivision else None),
        "document": json.dumps(footprint.to_json(), separators=(",", ":"), ensure_ascii=False),
    }


class SqlFootprintStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _rows(self, stmt: Any) -> list[Any]:
        with self._engine.connect() as conn:
            conn = conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                return list(conn.execute(stmt))

    # footprints ---------------------------------------------------------------------------------------------

    def add_footprint(self, owner_party_id: str, footprint: ProductFootprint, published_at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(t.pact_footprints).values(
                id=str(footprint.id), owner_party_id=owner_party_id, published_at=ts(published_at),
                **_row(footprint)))
            conn.execute(insert(t.pact_footprint_keys), [
                {"footprint_id": str(footprint.id), "kind": kind, "value": value}
                for kind, value in sorted(_keys(footprint))])

    def deprecate(self, owner_party_id: str, ids: Sequence[str]) -> None:
        f = t.pact_footprints.c
        with self._engine.begin() as conn:
            rows = conn.execute(select(f.id, f.document).where(
                f.owner_party_id == owner_party_id, f.id.in_(list(ids)), f.status == "active")).all()
            for row in rows:
                old = deprecated(ProductFootprint.model_validate_json(row.document))
                conn.execute(update(t.pact_footprints).where(f.id == row.id).values(**_row(old)))

    def get_footprint(self, footprint_id: str) -> StoredFootprint | None:
        f = t.pact_footprints.c
        rows = self._rows(select(f.owner_party_id, f.document).where(f.id == footprint_id.lower()))
        if not rows:
            return None
        return StoredFootprint(rows[0].owner_party_id, ProductFootprint.model_validate_json(rows[0].document))

    def list_footprints(self, owner_party_id: str, criteria: FootprintFilter, offset: int,
                        limit: int | None) -> list[ProductFootprint]:
        f, k = t.pact_footprints.c, t.pact_footprint_keys.c
        conditions: list[Any] = [f.owner_party_id == owner_party_id]
        for kind, values in (("product", criteria.product_ids), ("company", criteria.company_ids),
                             ("classification", criteria.classifications)):
            if values:
                conditions.append(exists().where(k.footprint_id == f.id, k.kind == kind,
                                                 k.value.in_(_lower(values))))
        if criteria.geographies:
            wanted = _lower(criteria.geographies)
            conditions.append(or_(f.geography_region.in_(wanted), f.geography_country.in_(wanted),
                                  f.geography_subdivision.in_(wanted)))
        if criteria.statuses:
            conditions.append(f.status.in_(_lower(criteria.statuses)))
        if criteria.valid_on is not None:
            conditions.append(and_(f.valid_from <= ts(criteria.valid_on), f.valid_to >= ts(criteria.valid_on)))
        if criteria.valid_after is not None:
            conditions.append(f.valid_from > ts(criteria.valid_after))
        if criteria.valid_before is not None:
            conditions.append(f.valid_to < ts(criteria.valid_before))
        stmt = select(f.document).where(*conditions).order_by(f.published_at, f.id).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [ProductFootprint.model_validate_json(row.document) for row in self._rows(stmt)]

    # clients and tokens -------------------------------------------------------------------------------------

    def add_client(self, client: PactClient, secret_sha256: str, created_at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(t.pact_clients).values(
                client_id=client.client_id, owner_party_id=client.owner_party_id, party_id=client.party_id,
                secret_sha256=secret_sha256, events_url=client.events_url, created_at=ts(created_at)))

    @staticmethod
    def _client(row: Any) -> PactClient:
        return PactClient(row.client_id, row.owner_party_id, row.party_id, row.events_url)

    def client_by_secret(self, client_id: str, secret_sha256: str) -> PactClient | None:
        c = t.pact_clients.c
        rows = self._rows(select(t.pact_clients).where(c.client_id == client_id))
        if not rows or not hmac.compare_digest(rows[0].secret_sha256, secret_sha256):
            return None
        return self._client(rows[0])

    def add_token(self, token_sha256: str, client_id: str, issued_at: datetime, expires_at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(t.pact_tokens).values(
                token_sha256=token_sha256, client_id=client_id, issued_at=ts(issued_at),
                expires_at=ts(expires_at)))

    def token(self, token_sha256: str) -> tuple[PactClient, datetime] | None:
        c, k = t.pact_clients.c, t.pact_tokens.c
        rows = self._rows(select(t.pact_clients, k.expires_at).join(t.pact_tokens, k.client_id == c.client_id)
                          .where(k.token_sha256 == token_sha256))
        return (self._client(rows[0]), _parse(rows[0].expires_at)) if rows else None

    def events_url_of(self, client_id: str) -> str | None:
        c = t.pact_clients.c
        rows = self._rows(select(c.events_url).where(c.client_id == client_id))
        return rows[0].events_url if rows else None

    # events and requests ------------------------------------------------------------------------------------

    def record_inbound(self, client_id: str, source: str, event_id: str, type_: str, body: dict[str, Any],
                       received_at: datetime) -> bool:
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(t.pact_events).values(
                    direction="in", client_id=client_id, source=source[:400], event_id=event_id[:200],
                    type=type_, body=json.dumps(body, ensure_ascii=False), created_at=ts(received_at)))
        except IntegrityError:
            return False
        return True

    def add_request(self, request: FootprintRequest) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(t.pact_requests).values(
                id=request.id, client_id=request.client_id, owner_party_id=request.owner_party_id,
                event_id=request.event_id[:200], source=request.source[:400],
                criteria=criteria_to_json(request.criteria), comment=request.comment, status=request.status,
                received_at=ts(request.received_at)))

    @staticmethod
    def _request(row: Any) -> FootprintRequest:
        return FootprintRequest(row.id, row.client_id, row.owner_party_id, row.event_id, row.source,
                                criteria_from_json(row.criteria), row.comment, row.status, _parse(row.received_at))

    def get_request(self, request_id: str) -> FootprintRequest | None:
        rows = self._rows(select(t.pact_requests).where(t.pact_requests.c.id == request_id))
        return self._request(rows[0]) if rows else None

    def requests(self, owner_party_id: str, status: str | None) -> list[FootprintRequest]:
        r = t.pact_requests.c
        stmt = select(t.pact_requests).where(r.owner_party_id == owner_party_id)
        if status is not None:
            stmt = stmt.where(r.status == status)
        return [self._request(row) for row in self._rows(stmt.order_by(r.received_at, r.id))]

    def answer_request(self, request_id: str, status: str, answered_at: datetime, event: OutgoingEvent) -> bool:
        r = t.pact_requests.c
        with self._engine.begin() as conn:
            changed = conn.execute(update(t.pact_requests).where(r.id == request_id, r.status == "pending")
                                   .values(status=status, answered_at=ts(answered_at))).rowcount
            if changed != 1:
                return False
            conn.execute(insert(t.pact_events).values(
                direction="out", client_id=event.client_id, source="", event_id=event.id, type=event.body["type"],
                body=json.dumps(event.body, ensure_ascii=False), created_at=ts(event.created_at),
                target_url=event.target_url[:500], attempts=0, next_attempt_at=ts(event.created_at)))
        return True

    def due_outgoing(self, now: datetime) -> list[OutgoingEvent]:
        e = t.pact_events.c
        rows = self._rows(select(t.pact_events).where(e.direction == "out", e.next_attempt_at <= ts(now))
                          .order_by(e.next_attempt_at, e.id))
        return [OutgoingEvent(row.event_id, row.client_id, row.target_url or "", json.loads(row.body),
                              _parse(row.created_at), row.attempts) for row in rows]

    def delivery_result(self, event_id: str, now: datetime, error: str | None,
                        next_attempt_at: datetime | None) -> None:
        e = t.pact_events.c
        values: dict[str, Any] = {"attempts": e.attempts + 1, "last_error": error,
                                  "next_attempt_at": None if next_attempt_at is None else ts(next_attempt_at)}
        if error is None:
            values["delivered_at"] = ts(now)
        with self._engine.begin() as conn:
            conn.execute(update(t.pact_events).where(e.direction == "out", e.event_id == event_id).values(**values))

    def count_inbound(self, type_: str) -> int:
        e = t.pact_events.c
        rows = self._rows(select(func.count()).select_from(t.pact_events).where(e.direction == "in", e.type == type_))
        return int(rows[0][0])
