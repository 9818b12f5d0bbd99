"""Tables of the platform, as SQLAlchemy Core metadata (the Alembic migrations create the same schema).

Projections (parties, vouchers, holdings, offers, financings, settlements, freezes, documents, verifications,
invoice uses, financing cases and their steps, repayments) are rebuilt exactly by
replaying ``events``; the tree tables (``tree_nodes``, ``tree_state``, ``checkpoints``, ``cosignatures``)
hold the RFC 9162 Merkle tree over the integrated events. ``idempotency_keys`` remembers answers to
state-changing requests, written in the same transaction as their effect.

Units are stored as inclusive ``[start_unit, end_unit]`` pairs; on PostgreSQL an exclusion constraint over
``int8range(start_unit, end_unit, '[]')`` makes overlapping non-superseded holdings of one voucher impossible
(see the migration).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# Big integers are INTEGER on SQLite so that "INTEGER PRIMARY KEY" keeps its rowid meaning there.
BigInt = BigInteger().with_variant(Integer(), "sqlite")

parties = Table(
    "parties",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("token_hash", String(64), nullable=True, unique=True),
    Column("registered_event", String(40), nullable=False),
    CheckConstraint(
        "role in ('core_enterprise','supplier','financial_institution','operator','certifier')", name="role"
    ),
)

vouchers = Table(
    "vouchers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("obligor_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("first_holder_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("face_minor", BigInt, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("maturity", Date, nullable=False),
    Column("contract_ref", String(200), nullable=False),
    Column("invoice_refs", Text, nullable=False),
    Column("split_count", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("issued_event", String(40), nullable=False),
    CheckConstraint("face_minor > 0", name="face_positive"),
    CheckConstraint("split_count >= 0", name="split_count"),
    Index("ix_vouchers_obligor_maturity", "obligor_id", "maturity", "id"),
    # The obligor-standing check on every hop: overdue, or active past maturity.
    Index("ix_vouchers_obligor_status", "obligor_id", "status", "maturity"),
)

holdings = Table(
    "holdings",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("voucher_id", String(40), ForeignKey("vouchers.id"), nullable=False),
    Column("start_unit", BigInt, nullable=False),
    Column("end_unit", BigInt, nullable=False),
    Column("holder_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("tier", Integer, nullable=False),
    Column("parent_id", String(48), ForeignKey("holdings.id"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_event", String(40), nullable=False),
    Column("closed_event", String(40), nullable=True),
    CheckConstraint("start_unit >= 1 AND end_unit >= start_unit", name="range"),
    CheckConstraint("tier >= 1", name="tier"),
    Index("ix_holdings_voucher_units", "voucher_id", "start_unit"),
    Index("ix_holdings_holder_status", "holder_id", "status"),
    Index("ix_holdings_parent", "parent_id"),
    # Current holdings only (about half the rows are superseded history): the portal's per-voucher and
    # per-obligor sums read this index alone.
    Index(
        "ix_holdings_current",
        "voucher_id",
        "status",
        "tier",
        "holder_id",
        "start_unit",
        "end_unit",
        sqlite_where=text("status <> 'superseded'"),
        postgresql_where=text("status <> 'superseded'"),
    ),
)

offers = Table(
    "offers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("voucher_id", String(40), ForeignKey("vouchers.id"), nullable=False),
    Column("holding_id", String(48), ForeignKey("holdings.id"), nullable=False),
    Column("source_holding_id", String(48), ForeignKey("holdings.id"), nullable=False),
    Column("sender_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("recipient_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("units", BigInt, nullable=False),
    Column("trade_ref", String(200), nullable=False),
    Column("invoice_refs", Text, nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_event", String(40), nullable=False),
    Column("resolved_event", String(40), nullable=True),
    Index("ix_offers_status_expires", "status", "expires_at"),
    Index("ix_offers_holding", "holding_id"),
    Index("ix_offers_voucher", "voucher_id"),
)

financings = Table(
    "financings",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("voucher_id", String(40), ForeignKey("vouchers.id"), nullable=False),
    Column("holding_id", String(48), ForeignKey("holdings.id"), nullable=False),
    Column("funded_holding_id", String(48), ForeignKey("holdings.id"), nullable=True),
    Column("applicant_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("financier_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("amount_minor", BigInt, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("annual_rate", String(20), nullable=False),
    Column("basis", String(10), nullable=False),
    Column("value_date", Date, nullable=False),
    Column("maturity", Date, nullable=False),
    Column("days", Integer, nullable=False),
    Column("discount_minor", BigInt, nullable=False),
    Column("fee_minor", BigInt, nullable=False),
    Column("net_minor", BigInt, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_event", String(40), nullable=False),
    Column("resolved_event", String(40), nullable=True),
    Index("ix_financings_financier_status", "financier_id", "status", "id"),
    Index("ix_financings_voucher", "voucher_id"),
)

settlements = Table(
    "settlements",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("voucher_id", String(40), ForeignKey("vouchers.id"), nullable=False, index=True),
    Column("obligor_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("paid_minor", BigInt, nullable=False),
    Column("overdue_minor", BigInt, nullable=False),
    Column("value_date", Date, nullable=False),
    Column("created_event", String(40), nullable=False),
)

settlement_payments = Table(
    "settlement_payments",
    metadata,
    Column("settlement_id", String(40), ForeignKey("settlements.id"), primary_key=True),
    Column("holding_id", String(48), ForeignKey("holdings.id"), primary_key=True),
    Column("holder_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("amount_minor", BigInt, nullable=False),
)

freezes = Table(
    "freezes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("voucher_id", String(40), ForeignKey("vouchers.id"), nullable=False),
    Column("holding_id", String(48), ForeignKey("holdings.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_event", String(40), nullable=False),
    Column("released_event", String(40), nullable=True),
)

# Trade documents registered by their seller or buyer (``document.register``). ``fields`` is the document's
# normalised wire form as canonical JSON; one registration per (type, number). Invoices record the sellers' and
# buyers' USCCs, which tie a USCC to one party.
documents = Table(
    "documents",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("type", String(16), nullable=False),
    Column("number", String(200), nullable=False),
    Column("registered_by", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("seller_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("buyer_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("seller_uscc", String(18), nullable=True, index=True),
    Column("buyer_uscc", String(18), nullable=True, index=True),
    Column("fields", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("source", String(8), nullable=False),
    Column("created_event", String(40), nullable=False),
    UniqueConstraint("type", "number"),
    CheckConstraint("type in ('contract','vat_invoice','delivery_note')", name="type"),
)

# Which party a USCC names: fixed by the first registered invoice that ties them (``document.register``), so the
# trade checks read a party's USCC with one key lookup. Unique both ways.
party_usccs = Table(
    "party_usccs",
    metadata,
    Column("party_id", String(40), ForeignKey("parties.id"), primary_key=True),
    Column("uscc", String(18), nullable=False, unique=True),
    Column("created_event", String(40), nullable=False),
)

# Trade-background verdicts: one per issue, transfer offer or financing request that ran the rules. ``results`` is
# the JSON list of rule results (rule, version, outcome, reasons); ``documents`` the claimed documents' hashes.
verifications = Table(
    "verifications",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", String(40), nullable=False, index=True),
    Column("voucher_id", String(40), ForeignKey("vouchers.id"), nullable=False, index=True),
    Column("outcome", String(8), nullable=False),
    Column("ruleset", Text, nullable=False),
    Column("results", Text, nullable=False),
    Column("documents", Text, nullable=False),
    Column("created_event", String(40), nullable=False),
    CheckConstraint("outcome in ('pass','warn','fail')", name="outcome"),
)

# How much of each invoice a hop or financing draws (the invoice-usage rule's memory). A use is released when
# what it backed did not happen after all (an offer rejected or expired, a financing declined or cancelled).
invoice_uses = Table(
    "invoice_uses",
    metadata,
    Column("invoice_number", String(200), primary_key=True),
    Column("use_id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("amount_minor", BigInt, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_event", String(40), nullable=False),
    Column("released_event", String(40), nullable=True),
    Index("ix_invoice_uses_use", "use_id"),
    CheckConstraint("amount_minor > 0", name="amount"),
)

# The financing case (the institution's workflow over a financing; ``tierflow.domain.financing_case``).
financing_cases = Table(
    "financing_cases",
    metadata,
    Column("financing_id", String(40), ForeignKey("financings.id"), primary_key=True),
    Column("stage", String(24), nullable=False),
    Column("recourse", Integer, nullable=False),
    Column("verification_id", String(40), nullable=True),
    Column("maker", String(120), nullable=True),
    Column("recommendation", String(8), nullable=True),
    Column("checker", String(120), nullable=True),
    Column("contract_number", String(40), nullable=True),
    Column("contract_sha256", String(64), nullable=True),
    Column("registry_number", String(40), nullable=True),
    Column("payment_message_id", String(35), nullable=True),
    Column("payment_sha256", String(64), nullable=True),
    Column("bank_reference", String(64), nullable=True),
    Column("repaid_minor", BigInt, nullable=False),
    Column("updated_event", String(40), nullable=False),
    Index("ix_financing_cases_stage", "stage"),
)

# Each step of a case: which event moved it to which stage, who (party and, for the institution, the person).
case_steps = Table(
    "case_steps",
    metadata,
    Column("event_id", String(40), primary_key=True),
    Column("financing_id", String(40), ForeignKey("financings.id"), primary_key=True),
    Column("stage", String(24), nullable=False),
    Column("actor_id", String(40), nullable=False),
    Column("user_name", String(120), nullable=True),
    Column("note", Text, nullable=True),
    Column("at", String(32), nullable=False),
    Index("ix_case_steps_financing", "financing_id", "at"),
)

# Repayments reconciled from the bank's camt.054 notifications; ``entry_ref`` (the bank's reference of the entry)
# makes importing the same notification twice harmless.
repayments = Table(
    "repayments",
    metadata,
    Column("entry_ref", String(80), primary_key=True),
    Column("financing_id", String(40), ForeignKey("financings.id"), nullable=False, index=True),
    Column("amount_minor", BigInt, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("booking_date", Date, nullable=False),
    Column("payer", String(140), nullable=True),
    Column("created_event", String(40), nullable=False),
)

# Files a case produced (the contract PDF as generated and as signed, the pain.001 payment message, imported
# camt.054 notifications), addressed by their SHA-256. Not a projection: the journal carries only the hashes, so
# a replay does not rebuild this table; it is backed up with the database.
case_files = Table(
    "case_files",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("financing_id", String(40), nullable=True, index=True),
    Column("kind", String(24), nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
)

# The journal. ``seq`` is queue order (assigned at commit time of the operation); ``leaf_index`` is assigned
# by the integrator, in seq order, when the entry enters the Merkle tree.
events = Table(
    "events",
    metadata,
    Column("seq", BigInt, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("actor_id", String(40), nullable=False),
    Column("at", String(32), nullable=False),
    Column("command_digest", String(64), nullable=False, unique=True),
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_index", BigInt, nullable=True, unique=True),
    Index(
        "ix_events_pending", "seq", sqlite_where=text("leaf_index IS NULL"), postgresql_where=text("leaf_index IS NULL")
    ),
    Index("ix_events_actor", "actor_id"),
)

# Which parties an event concerns (who may read it besides the operator).
event_parties = Table(
    "event_parties",
    metadata,
    Column("event_id", String(40), primary_key=True),
    Column("party_id", String(40), primary_key=True),
    Index("ix_event_parties_party", "party_id", "event_id"),
)

tree_nodes = Table(
    "tree_nodes",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInt, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

tree_state = Table(
    "tree_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInt, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    CheckConstraint("id = 1", name="singleton"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInt, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("signed_at", String(32), nullable=False),
)

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("checkpoint_size", BigInt, ForeignKey("checkpoints.size"), primary_key=True),
    Column("witness_id", String(40), ForeignKey("parties.id"), primary_key=True),
    Column("line", Text, nullable=False),
    Column("timestamp", BigInt, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("party_id", String(40), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

# Portal accounts: people who sign in to the web portal on behalf of a party (see services/accounts.py).
portal_users = Table(
    "portal_users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("party_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
    CheckConstraint("role in ('member','auditor')", name="role"),
)

portal_sessions = Table(
    "portal_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(40), ForeignKey("portal_users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("expires_at", String(32), nullable=False),
)

# Signing seeds the platform keeps for parties whose people act through the portal, sealed with a key
# derived from the platform seed (XSalsa20-Poly1305).
custodial_keys = Table(
    "custodial_keys",
    metadata,
    Column("party_id", String(40), ForeignKey("parties.id"), primary_key=True),
    Column("sealed_seed", LargeBinary, nullable=False),
)

ACTIVE_STATUSES_SQL = "status <> 'superseded'"

__all__ = [
    "ACTIVE_STATUSES_SQL",
    "checkpoints",
    "cosignatures",
    "custodial_keys",
    "documents",
    "event_parties",
    "events",
    "financings",
    "freezes",
    "holdings",
    "idempotency_keys",
    "metadata",
    "offers",
    "parties",
    "portal_sessions",
    "portal_users",
    "settlement_payments",
    "settlements",
    "tree_nodes",
    "tree_state",
    "vouchers",
]

# Tables defined in their own modules share ``metadata``; importing them here makes it complete wherever the schema
# is used (the migrations' comparison, ``create_all`` in tools).
from tierflow.store import schema_green as _schema_green  # noqa: E402, F401
from tierflow.store import schema_pact as _schema_pact  # noqa: E402, F401
