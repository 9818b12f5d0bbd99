"""PACT product-footprint exchange: footprints and their identifier keys, OAuth clients and tokens, footprint
requests, and received / outgoing events (``tierflow.store.schema_pact``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pact_footprints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_party_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.String(length=32), nullable=False),
        sa.Column("valid_to", sa.String(length=32), nullable=False),
        sa.Column("geography_region", sa.String(length=64), nullable=True),
        sa.Column("geography_country", sa.String(length=2), nullable=True),
        sa.Column("geography_subdivision", sa.String(length=8), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["owner_party_id"], ["parties.id"],
                                name=op.f("fk_pact_footprints_owner_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pact_footprints")),
    )
    op.create_index("ix_pact_footprints_owner", "pact_footprints", ["owner_party_id", "published_at", "id"])
    op.create_table(
        "pact_footprint_keys",
        sa.Column("footprint_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(["footprint_id"], ["pact_footprints.id"],
                                name=op.f("fk_pact_footprint_keys_footprint_id_pact_footprints")),
        sa.PrimaryKeyConstraint("footprint_id", "kind", "value", name=op.f("pk_pact_footprint_keys")),
    )
    op.create_index("ix_pact_footprint_keys_value", "pact_footprint_keys", ["kind", "value"])
    op.create_table(
        "pact_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("owner_party_id", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("events_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["owner_party_id"], ["parties.id"],
                                name=op.f("fk_pact_clients_owner_party_id_parties")),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_pact_clients_party_id_parties")),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_pact_clients")),
    )
    op.create_table(
        "pact_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["pact_clients.client_id"],
                                name=op.f("fk_pact_tokens_client_id_pact_clients")),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_pact_tokens")),
    )
    op.create_index(op.f("ix_pact_tokens_expires_at"), "pact_tokens", ["expires_at"])
    op.create_table(
        "pact_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("owner_party_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.String(length=32), nullable=False),
        sa.Column("answered_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["pact_clients.client_id"],
                                name=op.f("fk_pact_requests_client_id_pact_clients")),
        sa.ForeignKeyConstraint(["owner_party_id"], ["parties.id"],
                                name=op.f("fk_pact_requests_owner_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pact_requests")),
    )
    op.create_index("ix_pact_requests_owner_status", "pact_requests", ["owner_party_id", "status"])
    op.create_table(
        "pact_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("target_url", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.String(length=32), nullable=True),
        sa.Column("delivered_at", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["pact_clients.client_id"],
                                name=op.f("fk_pact_events_client_id_pact_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pact_events")),
        sa.UniqueConstraint("direction", "client_id", "source", "event_id", name=op.f("uq_pact_events_direction")),
    )
    op.create_index("ix_pact_events_due", "pact_events", ["direction", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_pact_events_due", table_name="pact_events")
    op.drop_table("pact_events")
    op.drop_index("ix_pact_requests_owner_status", table_name="pact_requests")
    op.drop_table("pact_requests")
    op.drop_index(op.f("ix_pact_tokens_expires_at"), table_name="pact_tokens")
    op.drop_table("pact_tokens")
    op.drop_table("pact_clients")
    op.drop_index("ix_pact_footprint_keys_value", table_name="pact_footprint_keys")
    op.drop_table("pact_footprint_keys")
    op.drop_index("ix_pact_footprints_owner", table_name="pact_footprints")
    op.drop_table("pact_footprints")
