"""Index offers by holding: the provenance query joins each holding of a chain to its offer.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_offers_holding", "offers", ["holding_id"])


def downgrade() -> None:
    op.drop_index("ix_offers_holding", table_name="offers")
