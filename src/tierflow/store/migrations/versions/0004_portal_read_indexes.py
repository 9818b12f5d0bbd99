"""Indexes for the portal's read views: current holdings (partial), an obligor's vouchers by maturity, a
financial institution's requests by status.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CURRENT = "status <> 'superseded'"


def upgrade() -> None:
    op.create_index(
        "ix_holdings_current",
        "holdings",
        ["voucher_id", "status", "tier", "holder_id", "start_unit", "end_unit"],
        sqlite_where=sa.text(CURRENT),
        postgresql_where=sa.text(CURRENT),
    )
    op.create_index("ix_vouchers_obligor_maturity", "vouchers", ["obligor_id", "maturity", "id"])
    op.create_index("ix_financings_financier_status", "financings", ["financier_id", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_financings_financier_status", table_name="financings")
    op.drop_index("ix_vouchers_obligor_maturity", table_name="vouchers")
    op.drop_index("ix_holdings_current", table_name="holdings")
