"""Portal accounts: users who sign in for a party, their sessions, and custodial signing keys.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("role in ('member','auditor')", name=op.f("ck_portal_users_role")),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_portal_users_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_users")),
        sa.UniqueConstraint("username", name=op.f("uq_portal_users_username")),
    )
    op.create_index(op.f("ix_portal_users_party_id"), "portal_users", ["party_id"])
    op.create_table(
        "portal_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["portal_users.id"], name=op.f("fk_portal_sessions_user_id_portal_users")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_portal_sessions")),
    )
    op.create_index(op.f("ix_portal_sessions_user_id"), "portal_sessions", ["user_id"])
    op.create_table(
        "custodial_keys",
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("sealed_seed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_custodial_keys_party_id_parties")),
        sa.PrimaryKeyConstraint("party_id", name=op.f("pk_custodial_keys")),
    )


def downgrade() -> None:
    op.drop_table("custodial_keys")
    op.drop_index(op.f("ix_portal_sessions_user_id"), table_name="portal_sessions")
    op.drop_table("portal_sessions")
    op.drop_index(op.f("ix_portal_users_party_id"), table_name="portal_users")
    op.drop_table("portal_users")
