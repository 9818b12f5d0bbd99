"""Tables of PACT product-footprint exchange, on the platform's ``metadata`` (migration ``0007``).

``pact_footprints`` holds each published footprint's v3 JSON document with the columns the filters need (status,
effective validity period, geography, lower-cased); ``pact_footprint_keys`` indexes its many-valued
identifiers (product, company, classification; lower-cased) for case-insensitive matching. ``pact_clients``
are the OAuth clients (SHA-256 of a random secret), ``pact_tokens`` their bearer tokens (SHA-256) with
expiry, ``pact_requests`` the footprint requests received as events, and ``pact_events`` every event
received (unique per client, source and id: redelivery is harmless) and every event to send, with its
delivery state. Times are ISO 8601 UTC strings of fixed width, so they compare as text.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from tierflow.store.schema import metadata

pact_footprints = Table(
    "pact_footprints",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_party_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("published_at", String(32), nullable=False),
    Column("valid_from", String(32), nullable=False),
    Column("valid_to", String(32), nullable=False),
    Column("geography_region", String(64), nullable=True),
    Column("geography_country", String(2), nullable=True),
    Column("geography_subdivision", String(8), nullable=True),
    Column("document", Text, nullable=False),
    Index("ix_pact_footprints_owner", "owner_party_id", "published_at", "id"),
)

pact_footprint_keys = Table(
    "pact_footprint_keys",
    metadata,
    Column("footprint_id", String(36), ForeignKey("pact_footprints.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String(400), primary_key=True),
    Index("ix_pact_footprint_keys_value", "kind", "value"),
)

pact_clients = Table(
    "pact_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("owner_party_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("party_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("events_url", String(500), nullable=True),
    Column("created_at", String(32), nullable=False),
)

pact_tokens = Table(
    "pact_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("client_id", String(64), ForeignKey("pact_clients.client_id"), nullable=False),
    Column("issued_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False, index=True),
)

pact_requests = Table(
    "pact_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("client_id", String(64), ForeignKey("pact_clients.client_id"), nullable=False),
    Column("owner_party_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("source", String(400), nullable=False),
    Column("criteria", Text, nullable=False),
    Column("comment", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("received_at", String(32), nullable=False),
    Column("answered_at", String(32), nullable=True),
    Index("ix_pact_requests_owner_status", "owner_party_id", "status"),
)

pact_events = Table(
    "pact_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("direction", String(3), nullable=False),
    Column("client_id", String(64), ForeignKey("pact_clients.client_id"), nullable=False),
    Column("source", String(400), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("type", String(100), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("target_url", String(500), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", String(32), nullable=True),
    Column("delivered_at", String(32), nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("direction", "client_id", "source", "event_id"),
    Index("ix_pact_events_due", "direction", "next_attempt_at"),
)
