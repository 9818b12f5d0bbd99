"""Trade documents (contracts, VAT e-invoices, delivery notes) registered with ``document.register``.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEXED = ("registered_by", "seller_id", "buyer_id", "seller_uscc", "buyer_uscc")


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("registered_by", sa.String(length=40), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=False),
        sa.Column("buyer_id", sa.String(length=40), nullable=False),
        sa.Column("seller_uscc", sa.String(length=18), nullable=True),
        sa.Column("buyer_uscc", sa.String(length=18), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.CheckConstraint("type in ('contract','vat_invoice','delivery_note')", name=op.f("ck_documents_type")),
        sa.ForeignKeyConstraint(["registered_by"], ["parties.id"], name=op.f("fk_documents_registered_by_parties")),
        sa.ForeignKeyConstraint(["seller_id"], ["parties.id"], name=op.f("fk_documents_seller_id_parties")),
        sa.ForeignKeyConstraint(["buyer_id"], ["parties.id"], name=op.f("fk_documents_buyer_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("type", "number", name=op.f("uq_documents_type")),
    )
    for column in INDEXED:
        op.create_index(op.f(f"ix_documents_{column}"), "documents", [column])


def downgrade() -> None:
    for column in reversed(INDEXED):
        op.drop_index(op.f(f"ix_documents_{column}"), table_name="documents")
    op.drop_table("documents")
