"""Initial schema: parties, vouchers, holdings, offers, financings, settlements, freezes, the journal.

On PostgreSQL, an exclusion constraint makes overlapping non-superseded holdings of one voucher
impossible (btree_gist for the voucher id equality, int8range overlap for the units).

Revision ID: 0001
Revises:
Create Date: 2026-11-25 20:34:32.878697
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# SHA-256 of the empty string: the RFC 9162 root of an empty tree.
EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_checkpoints")),
    )
    op.create_table(
        "event_parties",
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "party_id", name=op.f("pk_event_parties")),
    )
    with op.batch_alter_table("event_parties", schema=None) as batch_op:
        batch_op.create_index("ix_event_parties_party", ["party_id", "event_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("command_digest", sa.String(length=64), nullable=False),
        sa.Column("leaf", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("command_digest", name=op.f("uq_events_command_digest")),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_events_leaf_index")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_actor", ["actor_id"], unique=False)
        batch_op.create_index(
            "ix_events_pending",
            ["seq"],
            unique=False,
            sqlite_where=sa.text("leaf_index IS NULL"),
            postgresql_where=sa.text("leaf_index IS NULL"),
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("party_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("registered_event", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "role in ('core_enterprise','supplier','financial_institution','operator')",
            name=op.f("ck_parties_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_parties_token_hash")),
    )
    op.create_table(
        "tree_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_tree_nodes")),
    )
    op.create_table(
        "tree_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_tree_state_singleton")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tree_state")),
    )
    op.create_table(
        "cosignatures",
        sa.Column("checkpoint_size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("witness_id", sa.String(length=40), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_size"],
            ["checkpoints.size"],
            name=op.f("fk_cosignatures_checkpoint_size_checkpoints"),
        ),
        sa.ForeignKeyConstraint(["witness_id"], ["parties.id"], name=op.f("fk_cosignatures_witness_id_parties")),
        sa.PrimaryKeyConstraint("checkpoint_size", "witness_id", name=op.f("pk_cosignatures")),
    )
    op.create_table(
        "vouchers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("obligor_id", sa.String(length=40), nullable=False),
        sa.Column("first_holder_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("face_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("maturity", sa.Date(), nullable=False),
        sa.Column("contract_ref", sa.String(length=200), nullable=False),
        sa.Column("invoice_refs", sa.Text(), nullable=False),
        sa.Column("split_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_event", sa.String(length=40), nullable=False),
        sa.CheckConstraint("face_minor > 0", name=op.f("ck_vouchers_face_positive")),
        sa.CheckConstraint("split_count >= 0", name=op.f("ck_vouchers_split_count")),
        sa.ForeignKeyConstraint(["first_holder_id"], ["parties.id"], name=op.f("fk_vouchers_first_holder_id_parties")),
        sa.ForeignKeyConstraint(["obligor_id"], ["parties.id"], name=op.f("fk_vouchers_obligor_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vouchers_obligor_id"), ["obligor_id"], unique=False)

    op.create_table(
        "holdings",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("voucher_id", sa.String(length=40), nullable=False),
        sa.Column("start_unit", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("end_unit", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.String(length=48), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.Column("closed_event", sa.String(length=40), nullable=True),
        sa.CheckConstraint("start_unit >= 1 AND end_unit >= start_unit", name=op.f("ck_holdings_range")),
        sa.CheckConstraint("tier >= 1", name=op.f("ck_holdings_tier")),
        sa.ForeignKeyConstraint(["holder_id"], ["parties.id"], name=op.f("fk_holdings_holder_id_parties")),
        sa.ForeignKeyConstraint(["parent_id"], ["holdings.id"], name=op.f("fk_holdings_parent_id_holdings")),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"], name=op.f("fk_holdings_voucher_id_vouchers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holdings")),
    )
    with op.batch_alter_table("holdings", schema=None) as batch_op:
        batch_op.create_index("ix_holdings_holder_status", ["holder_id", "status"], unique=False)
        batch_op.create_index("ix_holdings_parent", ["parent_id"], unique=False)
        batch_op.create_index("ix_holdings_voucher_units", ["voucher_id", "start_unit"], unique=False)

    op.create_table(
        "settlements",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("voucher_id", sa.String(length=40), nullable=False),
        sa.Column("obligor_id", sa.String(length=40), nullable=False),
        sa.Column("paid_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("overdue_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["obligor_id"], ["parties.id"], name=op.f("fk_settlements_obligor_id_parties")),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"], name=op.f("fk_settlements_voucher_id_vouchers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
    )
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlements_voucher_id"), ["voucher_id"], unique=False)

    op.create_table(
        "financings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("voucher_id", sa.String(length=40), nullable=False),
        sa.Column("holding_id", sa.String(length=48), nullable=False),
        sa.Column("funded_holding_id", sa.String(length=48), nullable=True),
        sa.Column("applicant_id", sa.String(length=40), nullable=False),
        sa.Column("financier_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("annual_rate", sa.String(length=20), nullable=False),
        sa.Column("basis", sa.String(length=10), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("maturity", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("discount_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fee_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("net_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.Column("resolved_event", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["applicant_id"], ["parties.id"], name=op.f("fk_financings_applicant_id_parties")),
        sa.ForeignKeyConstraint(["financier_id"], ["parties.id"], name=op.f("fk_financings_financier_id_parties")),
        sa.ForeignKeyConstraint(
            ["funded_holding_id"], ["holdings.id"], name=op.f("fk_financings_funded_holding_id_holdings")
        ),
        sa.ForeignKeyConstraint(["holding_id"], ["holdings.id"], name=op.f("fk_financings_holding_id_holdings")),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"], name=op.f("fk_financings_voucher_id_vouchers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_financings")),
    )
    with op.batch_alter_table("financings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_financings_applicant_id"), ["applicant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_financings_financier_id"), ["financier_id"], unique=False)

    op.create_table(
        "freezes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("voucher_id", sa.String(length=40), nullable=False),
        sa.Column("holding_id", sa.String(length=48), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.Column("released_event", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["holding_id"], ["holdings.id"], name=op.f("fk_freezes_holding_id_holdings")),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"], name=op.f("fk_freezes_voucher_id_vouchers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freezes")),
    )
    op.create_table(
        "offers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("voucher_id", sa.String(length=40), nullable=False),
        sa.Column("holding_id", sa.String(length=48), nullable=False),
        sa.Column("source_holding_id", sa.String(length=48), nullable=False),
        sa.Column("sender_id", sa.String(length=40), nullable=False),
        sa.Column("recipient_id", sa.String(length=40), nullable=False),
        sa.Column("units", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("trade_ref", sa.String(length=200), nullable=False),
        sa.Column("invoice_refs", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.Column("resolved_event", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["holding_id"], ["holdings.id"], name=op.f("fk_offers_holding_id_holdings")),
        sa.ForeignKeyConstraint(["recipient_id"], ["parties.id"], name=op.f("fk_offers_recipient_id_parties")),
        sa.ForeignKeyConstraint(["sender_id"], ["parties.id"], name=op.f("fk_offers_sender_id_parties")),
        sa.ForeignKeyConstraint(
            ["source_holding_id"], ["holdings.id"], name=op.f("fk_offers_source_holding_id_holdings")
        ),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"], name=op.f("fk_offers_voucher_id_vouchers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offers_recipient_id"), ["recipient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_offers_sender_id"), ["sender_id"], unique=False)
        batch_op.create_index("ix_offers_status_expires", ["status", "expires_at"], unique=False)

    op.create_table(
        "settlement_payments",
        sa.Column("settlement_id", sa.String(length=40), nullable=False),
        sa.Column("holding_id", sa.String(length=48), nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["holder_id"], ["parties.id"], name=op.f("fk_settlement_payments_holder_id_parties")),
        sa.ForeignKeyConstraint(
            ["holding_id"], ["holdings.id"], name=op.f("fk_settlement_payments_holding_id_holdings")
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlements.id"],
            name=op.f("fk_settlement_payments_settlement_id_settlements"),
        ),
        sa.PrimaryKeyConstraint("settlement_id", "holding_id", name=op.f("pk_settlement_payments")),
    )
    with op.batch_alter_table("settlement_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlement_payments_holder_id"), ["holder_id"], unique=False)
    op.bulk_insert(
        sa.table("tree_state", sa.column("id"), sa.column("size"), sa.column("root")),
        [{"id": 1, "size": 0, "root": EMPTY_ROOT}],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE holdings ADD CONSTRAINT ex_holdings_no_overlap EXCLUDE USING gist "
            "(voucher_id WITH =, int8range(start_unit, end_unit, '[]') WITH &&) "
            "WHERE (status <> 'superseded')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE holdings DROP CONSTRAINT ex_holdings_no_overlap")
    with op.batch_alter_table("settlement_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_payments_holder_id"))

    op.drop_table("settlement_payments")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_status_expires")
        batch_op.drop_index(batch_op.f("ix_offers_sender_id"))
        batch_op.drop_index(batch_op.f("ix_offers_recipient_id"))

    op.drop_table("offers")
    op.drop_table("freezes")
    with op.batch_alter_table("financings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_financings_financier_id"))
        batch_op.drop_index(batch_op.f("ix_financings_applicant_id"))

    op.drop_table("financings")
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlements_voucher_id"))

    op.drop_table("settlements")
    with op.batch_alter_table("holdings", schema=None) as batch_op:
        batch_op.drop_index("ix_holdings_voucher_units")
        batch_op.drop_index("ix_holdings_parent")
        batch_op.drop_index("ix_holdings_holder_status")

    op.drop_table("holdings")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vouchers_obligor_id"))

    op.drop_table("vouchers")
    op.drop_table("cosignatures")
    op.drop_table("tree_state")
    op.drop_table("tree_nodes")
    op.drop_table("parties")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_events_pending",
            sqlite_where=sa.text("leaf_index IS NULL"),
            postgresql_where=sa.text("leaf_index IS NULL"),
        )
        batch_op.drop_index("ix_events_actor")

    op.drop_table("events")
    with op.batch_alter_table("event_parties", schema=None) as batch_op:
        batch_op.drop_index("ix_event_parties_party")

    op.drop_table("event_parties")
    op.drop_table("checkpoints")
