"""Product footprints exchanged over PACT: what a data owner's host system does.

Design overview: ``FootprintService`` holds the use cases and talks to storage through the ``FootprintStore``
port (implemented by ``tierflow.store.footprints``).

- Publishing: a party (the data owner) publishes v3 footprints (v2 documents are converted); a footprint
  naming ``precedingPfIds`` deprecates them (PACT lifecycle).
- Clients: the owner registers a PACT client for a recipient party; its secret (32 random bytes, shown once) is
  stored as SHA-256: the secret is high-entropy, so a slow password hash adds nothing. ``issue_token`` trades
  client credentials for a bearer token (32 random bytes, SHA-256 stored) that expires after ``token_ttl``.
- Reading: a client sees the footprints of the owner that registered it, filtered by the v3 criteria
  (OR within a criterion, AND across), paginated by offset.
- Events: a ``RequestCreatedEvent`` is recorded as a request; the owner answers with ``fulfil`` or ``reject``,
  or ``answer`` decides from the published footprints matching the request's criteria. The answer is queued as
  an outgoing CloudEvent to the recipient; ``deliver_due`` sends queued events through a ``Sender`` and backs
  off exponentially, giving up after 72 hours (spec). Fulfilled, rejected and published events from partners
  are recorded. Events are idempotent per (client, source, id).

``import_footprints`` / ``export_footprints`` are the command-line use cases.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.green.pact import ProductFootprint, parse_document, to_v2

Clock = Callable[[], datetime]
Sender = Callable[[str, dict[str, Any]], None]

EVENT_PREFIX = "org.wbcsd.pact.ProductFootprint."
REQUEST_CREATED = EVENT_PREFIX + "RequestCreatedEvent.3"
REQUEST_FULFILLED = EVENT_PREFIX + "RequestFulfilledEvent.3"
REQUEST_REJECTED = EVENT_PREFIX + "RequestRejectedEvent.3"
PUBLISHED = EVENT_PREFIX + "PublishedEvent.3"
EVENT_TYPES = (REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED, PUBLISHED)
GIVE_UP_AFTER = timedelta(hours=72)


class FootprintError(DomainError):
    code = "footprint_error"
    kind = ErrorKind.INVALID


class InvalidFootprint(FootprintError):
    code = "invalid_footprint"


class FootprintExists(FootprintError):
    code = "footprint_exists"
    kind = ErrorKind.CONFLICT


class FootprintNotFound(FootprintError):
    code = "footprint_not_found"
    kind = ErrorKind.NOT_FOUND


class FootprintAccessDenied(FootprintError):
    code = "footprint_access_denied"
    kind = ErrorKind.FORBIDDEN


class InvalidClient(FootprintError):
    code = "invalid_client"
    kind = ErrorKind.FORBIDDEN


class InvalidToken(FootprintError):
    code = "invalid_token"


class TokenExpired(FootprintError):
    code = "token_expired"


class InvalidEvent(FootprintError):
    code = "invalid_event"


# --- records -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FootprintFilter:
    """v3 ListFootprints criteria: values within one criterion OR, criteria AND; strings match case-insensitively."""

    product_ids: tuple[str, ...] = ()
    company_ids: tuple[str, ...] = ()
    geographies: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    valid_on: datetime | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class PactClient:
    client_id: str
    owner_party_id: str
    party_id: str
    events_url: str | None = None


@dataclass(frozen=True, slots=True)
class StoredFootprint:
    owner_party_id: str
    footprint: ProductFootprint


@dataclass(frozen=True, slots=True)
class FootprintRequest:
    id: str
    client_id: str
    owner_party_id: str
    event_id: str
    source: str
    criteria: FootprintFilter
    comment: str | None
    status: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class OutgoingEvent:
    id: str
    client_id: str
    target_url: str
    body: dict[str, Any]
    created_at: datetime
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "Bearer"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    type: str
    duplicate: bool = False
    request_id: str | None = None
    notes: list[str] = field(default_factory=list)


class FootprintStore(Protocol):
    def add_footprint(self, owner_party_id: str, footprint: ProductFootprint, published_at: datetime) -> None: ...
    def deprecate(self, owner_party_id: str, ids: Sequence[str]) -> None: ...
    def get_footprint(self, footprint_id: str) -> StoredFootprint | None: ...
    def list_footprints(self, owner_party_id: str, criteria: FootprintFilter, offset: int,
                        limit: int | None) -> list[ProductFootprint]: ...
    def add_client(self, client: PactClient, secret_sha256: str, created_at: datetime) -> None: ...
    def client_by_secret(self, client_id: str, secret_sha256: str) -> PactClient | None: ...
    def add_token(self, token_sha256: str, client_id: str, issued_at: datetime, expires_at: datetime) -> None: ...
    def token(self, token_sha256: str) -> tuple[PactClient, datetime] | None: ...
    def events_url_of(self, client_id: str) -> str | None: ...
    def record_inbound(self, client_id: str, source: str, event_id: str, type_: str, body: dict[str, Any],
                       received_at: datetime) -> bool: ...
    def add_request(self, request: FootprintRequest) -> None: ...
    def get_request(self, request_id: str) -> FootprintRequest | None: ...
    def requests(self, owner_party_id: str, status: str | None) -> list[FootprintRequest]: ...
    def answer_request(self, request_id: str, status: str, answered_at: datetime, event: OutgoingEvent) -> bool: ...
    def due_outgoing(self, now: datetime) -> list[OutgoingEvent]: ...
    def delivery_result(self, event_id: str, now: datetime, error: str | None,
                        next_attempt_at: datetime | None) -> None: ...


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _criteria_from_event(data: dict[str, Any]) -> FootprintFilter:
    def values(key: str) -> tuple[str, ...]:
        raw = data.get(key)
        if raw is None:
            return ()
        if isinstance(raw, str):
            return (raw,)
        if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            return tuple(raw)
        raise InvalidEvent(f"data.{key} must be a string or a list of strings")

    def moment(key: str) -> datetime | None:
        raw = data.get(key)
        return None if raw is None else parse_rfc3339(raw, f"data.{key}")

    return FootprintFilter(
        product_ids=values("productId"), company_ids=values("companyId"), geographies=values("geography"),
        classifications=values("classification"), statuses=values("status"), valid_on=moment("validOn"),
        valid_after=moment("validAfter"), valid_before=moment("validBefore"),
    )


def parse_rfc3339(value: Any, name: str) -> datetime:
    """An RFC 3339 date-time with an offset (``Z`` or ``±hh:mm``)."""
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be an RFC 3339 date-time string")
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as error:
        raise InvalidEvent(f"{name} is not an RFC 3339 date-time: {value!r}") from error
    if moment.tzinfo is None:
        raise InvalidEvent(f"{name} must carry a time-zone offset: {value!r}")
    return moment


def _criteria_json(criteria: FootprintFilter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, values in (("productId", criteria.product_ids), ("companyId", criteria.company_ids),
                        ("geography", criteria.geographies), ("classification", criteria.classifications),
                        ("status", criteria.statuses)):
        if values:
            out[key] = list(values)
    for key, moment in (("validOn", criteria.valid_on), ("validAfter", criteria.valid_after),
                        ("validBefore", criteria.valid_before)):
        if moment is not None:
            out[key] = moment.isoformat()
    return out


def criteria_to_json(criteria: FootprintFilter) -> str:
    return json.dumps(_criteria_json(criteria), sort_keys=True)


def criteria_from_json(text: str) -> FootprintFilter:
    return _criteria_from_event(json.loads(text))


class FootprintService:
    def __init__(self, store: FootprintStore, *, clock: Clock, token_ttl: timedelta = timedelta(hours=1),
                 source: str = "tierflow") -> None:
        self._store = store
        self._clock = clock
        self._token_ttl = token_ttl
        self.source = source

    # publishing ---------------------------------------------------------------------------------------------

    def publish(self, owner_party_id: str, document: dict[str, Any] | ProductFootprint) -> ProductFootprint:
        """Publish one footprint (v3 document, v2 document, or model) for ``owner_party_id``."""
        try:
            footprint = document if isinstance(document, ProductFootprint) else parse_document(document)
        except (ValidationError, ValueError) as error:
            raise InvalidFootprint(f"invalid product footprint: {error}") from error
        if self._store.get_footprint(str(footprint.id)) is not None:
            raise FootprintExists(f"footprint {footprint.id} already exists")
        self._store.add_footprint(owner_party_id, footprint, self._clock())
        if footprint.preceding_pf_ids:
            self._store.deprecate(owner_party_id, [str(i) for i in footprint.preceding_pf_ids])
        return footprint

    # clients and tokens -------------------------------------------------------------------------------------

    def register_client(self, owner_party_id: str, party_id: str, *,
                        events_url: str | None = None) -> tuple[PactClient, str]:
        """A client for ``party_id`` to read ``owner_party_id``'s footprints; returns it and its secret (once)."""
        client = PactClient("pact-" + secrets.token_hex(12), owner_party_id, party_id, events_url)
        secret = secrets.token_urlsafe(32)
        self._store.add_client(client, sha256_hex(secret), self._clock())
        return client, secret

    def issue_token(self, client_id: str, client_secret: str) -> IssuedToken:
        client = self._store.client_by_secret(client_id, sha256_hex(client_secret))
        if client is None:
            raise InvalidClient("client authentication failed")
        token = secrets.token_urlsafe(32)
        now = self._clock()
        self._store.add_token(sha256_hex(token), client.client_id, now, now + self._token_ttl)
        return IssuedToken(token, int(self._token_ttl.total_seconds()))

    def authenticate(self, access_token: str | None) -> PactClient:
        found = self._store.token(sha256_hex(access_token)) if access_token else None
        if found is None:
            raise InvalidToken("Invalid token provided")
        client, expires_at = found
        if self._clock() >= expires_at:
            raise TokenExpired("The access token has expired")
        return client

    # reading ------------------------------------------------------------------------------------------------

    def list_page(self, client: PactClient, criteria: FootprintFilter, *, offset: int = 0,
             limit: int | None = None) -> tuple[list[ProductFootprint], bool]:
        """One page of footprints and whether more follow."""
        page = self._store.list_footprints(client.owner_party_id, criteria, offset,
                                           None if limit is None else limit + 1)
        if limit is not None and len(page) > limit:
            return page[:limit], True
        return page, False

    def get(self, client: PactClient, footprint_id: str) -> ProductFootprint:
        stored = self._store.get_footprint(footprint_id)
        if stored is None:
            raise FootprintNotFound(f"Footprint with ID '{footprint_id}' does not exist")
        if stored.owner_party_id != client.owner_party_id:
            raise FootprintAccessDenied("Access to this footprint was not granted")
        return stored.footprint

    def footprints_of(self, owner_party_id: str) -> list[ProductFootprint]:
        return self._store.list_footprints(owner_party_id, FootprintFilter(), 0, None)

    # events -------------------------------------------------------------------------------------------------

    def receive_event(self, client: PactClient, event: Any) -> EventOutcome:
        """Validate and record a CloudEvent (structured JSON mode) sent by ``client``."""
        if not isinstance(event, dict):
            raise InvalidEvent("the body must be a CloudEvents JSON object")
        for key in ("type", "specversion", "id", "source"):
            if not isinstance(event.get(key), str) or not event[key]:
                raise InvalidEvent(f"CloudEvent attribute '{key}' is required")
        if event["specversion"] != "1.0":
            raise InvalidEvent("only CloudEvents specversion 1.0 is supported")
        if event["type"] not in EVENT_TYPES:
            raise InvalidEvent(f"unsupported event type {event['type']!r}")
        if "time" in event:
            parse_rfc3339(event["time"], "time")
        data = event.get("data")
        if not isinstance(data, dict):
            raise InvalidEvent("CloudEvent attribute 'data' must be an object")
        type_ = event["type"]
        if type_ == REQUEST_CREATED:
            criteria = _criteria_from_event(data)
            if criteria == FootprintFilter():
                raise InvalidEvent("a request must name at least one criterion")
            comment = data.get("comment")
            if comment is not None and not isinstance(comment, str):
                raise InvalidEvent("data.comment must be a string")
        elif type_ == REQUEST_FULFILLED:
            pfs = data.get("pfs")
            if not isinstance(data.get("requestEventId"), str) or not isinstance(pfs, list) or not pfs:
                raise InvalidEvent("a fulfilled event needs data.requestEventId and a non-empty data.pfs")
            if not all(isinstance(pf, dict) and isinstance(pf.get("id"), str) for pf in pfs):
                raise InvalidEvent("each of data.pfs must be a ProductFootprint object with an id")
        elif type_ == REQUEST_REJECTED:
            error = data.get("error")
            if not isinstance(data.get("requestEventId"), str) or not isinstance(error, dict) or not all(
                    isinstance(error.get(k), str) for k in ("code", "message")):
                raise InvalidEvent("a rejected event needs data.requestEventId and data.error {code, message}")
        else:
            pf_ids = data.get("pfIds")
            if not isinstance(pf_ids, list) or not pf_ids or not all(isinstance(i, str) for i in pf_ids):
                raise InvalidEvent("a published event needs a non-empty data.pfIds")

        now = self._clock()
        if not self._store.record_inbound(client.client_id, event["source"], event["id"], type_, event, now):
            return EventOutcome(type_, duplicate=True)
        if type_ != REQUEST_CREATED:
            return EventOutcome(type_)
        request = FootprintRequest(
            id="req-" + uuid.uuid4().hex, client_id=client.client_id, owner_party_id=client.owner_party_id,
            event_id=event["id"], source=event["source"], criteria=criteria, comment=data.get("comment"),
            status="pending", received_at=now,
        )
        self._store.add_request(request)
        return EventOutcome(type_, request_id=request.id)

    def requests(self, owner_party_id: str, status: str | None = "pending") -> list[FootprintRequest]:
        return self._store.requests(owner_party_id, status)

    def answer(self, request_id: str) -> str:
        """Answer from what is published: fulfilled with the matching footprints, or rejected (NotFound)."""
        request = self._request(request_id)
        matches = self._store.list_footprints(request.owner_party_id, request.criteria, 0, None)
        if matches:
            self.fulfil(request_id, [str(f.id) for f in matches])
            return "fulfilled"
        self.reject(request_id, "NotFound", "No product footprint matches the request.")
        return "rejected"

    def fulfil(self, request_id: str, footprint_ids: Sequence[str]) -> None:
        request = self._request(request_id)
        if not footprint_ids:
            raise FootprintError("a fulfilled request returns at least one footprint; reject it instead")
        pfs = []
        for footprint_id in footprint_ids:
            stored = self._store.get_footprint(footprint_id)
            if stored is None or stored.owner_party_id != request.owner_party_id:
                raise FootprintNotFound(f"footprint {footprint_id} is not one of the owner's")
            pfs.append(stored.footprint.to_json())
        self._answer(request, "fulfilled", REQUEST_FULFILLED, {"requestEventId": request.event_id, "pfs": pfs})

    def reject(self, request_id: str, code: str, message: str) -> None:
        request = self._request(request_id)
        self._answer(request, "rejected", REQUEST_REJECTED,
                     {"requestEventId": request.event_id, "error": {"code": code, "message": message}})

    def _request(self, request_id: str) -> FootprintRequest:
        request = self._store.get_request(request_id)
        if request is None:
            raise FootprintNotFound(f"no request {request_id}")
        return request

    def _answer(self, request: FootprintRequest, status: str, type_: str, data: dict[str, Any]) -> None:
        if request.status != "pending":
            raise FootprintError(f"request {request.id} was already {request.status}")
        now = self._clock()
        event_id = str(uuid.uuid4())
        body = {"type": type_, "specversion": "1.0", "id": event_id, "source": self.source,
                "time": now.isoformat().replace("+00:00", "Z"), "data": data}
        client_url = self._client_url(request.client_id)
        target = client_url or _absolute(request.source)
        if not self._store.answer_request(request.id, status, now,
                                          OutgoingEvent(event_id, request.client_id, target, body, now)):
            raise FootprintError(f"request {request.id} was answered concurrently")

    def _client_url(self, client_id: str) -> str | None:
        return self._store.events_url_of(client_id)

    def deliver_due(self, send: Sender) -> int:
        """Send the outgoing events that are due; returns how many were delivered."""
        delivered = 0
        now = self._clock()
        for event in self._store.due_outgoing(now):
            try:
                send(event.target_url, event.body)
            except Exception as error:  # the recipient's failure, whatever it is, is recorded and retried
                attempts = event.attempts + 1
                retry = now + timedelta(seconds=min(2 ** attempts * 30, 6 * 3600))
                give_up = retry - event.created_at > GIVE_UP_AFTER
                self._store.delivery_result(event.id, now, f"{type(error).__name__}: {error}",
                                            None if give_up else retry)
            else:
                self._store.delivery_result(event.id, now, None, None)
                delivered += 1
        return delivered


def _absolute(source: str) -> str:
    return "https:" + source if source.startswith("//") else source


# --- command line use cases ----------------------------------------------------------------------------------


def import_footprints(service: FootprintService, owner_party_id: str, path: Path) -> list[str]:
    """Publish the footprints of a JSON file: one document, a list, or ``{"data": [...]}`` (v2 or v3)."""
    content = json.loads(path.read_text(encoding="utf-8"))
    documents = content.get("data", content) if isinstance(content, dict) else content
    if isinstance(documents, dict):
        documents = [documents]
    if not isinstance(documents, list):
        raise InvalidFootprint("the file must hold a footprint, a list of them, or {\"data\": [...]}")
    return [str(service.publish(owner_party_id, document).id) for document in documents]


def export_footprints(service: FootprintService, owner_party_id: str, path: Path, *, version: int = 3) -> int:
    """Write the owner's footprints as ``{"data": [...]}`` in v3 (or v2) JSON; returns how many."""
    footprints = service.footprints_of(owner_party_id)
    data = [f.to_json() if version == 3 else to_v2(f) for f in footprints]
    path.write_text(json.dumps({"data": data}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(data)
