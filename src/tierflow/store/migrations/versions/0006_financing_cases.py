"""Trade verification verdicts, invoice usage, and the financing case (AMS workflow): stages, steps,
repayments reconciled from camt.054, and the files a case produced.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "party_usccs",
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_party_usccs_party_id_parties")),
        sa.PrimaryKeyConstraint("party_id", name=op.f("pk_party_usccs")),
        sa.UniqueConstraint("uscc", name=op.f("uq_party_usccs_uscc")),
    )
    _bind_registered_usccs()
    op.create_index("ix_offers_voucher", "offers", ["voucher_id"])
    op.create_index("ix_financings_voucher", "financings", ["voucher_id"])
    op.create_index("ix_vouchers_obligor_status", "vouchers", ["obligor_id", "status", "maturity"])
    op.create_table(
        "case_files",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("financing_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_case_files")),
    )
    with op.batch_alter_table("case_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_files_financing_id"), ["financing_id"], unique=False)

    op.create_table(
        "invoice_uses",
        sa.Column("invoice_number", sa.String(length=200), nullable=False),
        sa.Column("use_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.Column("released_event", sa.String(length=40), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_invoice_uses_amount")),
        sa.PrimaryKeyConstraint("invoice_number", "use_id", name=op.f("pk_invoice_uses")),
    )
    with op.batch_alter_table("invoice_uses", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_uses_use", ["use_id"], unique=False)

    op.create_table(
        "verifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("voucher_id", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("ruleset", sa.Text(), nullable=False),
        sa.Column("results", sa.Text(), nullable=False),
        sa.Column("documents", sa.Text(), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.CheckConstraint("outcome in ('pass','warn','fail')", name=op.f("ck_verifications_outcome")),
        sa.ForeignKeyConstraint(["voucher_id"], ["vouchers.id"], name=op.f("fk_verifications_voucher_id_vouchers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verifications_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_verifications_voucher_id"), ["voucher_id"], unique=False)

    op.create_table(
        "case_steps",
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("financing_id", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("user_name", sa.String(length=120), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["financing_id"], ["financings.id"], name=op.f("fk_case_steps_financing_id_financings")
        ),
        sa.PrimaryKeyConstraint("event_id", "financing_id", name=op.f("pk_case_steps")),
    )
    with op.batch_alter_table("case_steps", schema=None) as batch_op:
        batch_op.create_index("ix_case_steps_financing", ["financing_id", "at"], unique=False)

    op.create_table(
        "financing_cases",
        sa.Column("financing_id", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("recourse", sa.Integer(), nullable=False),
        sa.Column("verification_id", sa.String(length=40), nullable=True),
        sa.Column("maker", sa.String(length=120), nullable=True),
        sa.Column("recommendation", sa.String(length=8), nullable=True),
        sa.Column("checker", sa.String(length=120), nullable=True),
        sa.Column("contract_number", sa.String(length=40), nullable=True),
        sa.Column("contract_sha256", sa.String(length=64), nullable=True),
        sa.Column("registry_number", sa.String(length=40), nullable=True),
        sa.Column("payment_message_id", sa.String(length=35), nullable=True),
        sa.Column("payment_sha256", sa.String(length=64), nullable=True),
        sa.Column("bank_reference", sa.String(length=64), nullable=True),
        sa.Column("repaid_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_event", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["financing_id"], ["financings.id"], name=op.f("fk_financing_cases_financing_id_financings")
        ),
        sa.PrimaryKeyConstraint("financing_id", name=op.f("pk_financing_cases")),
    )
    with op.batch_alter_table("financing_cases", schema=None) as batch_op:
        batch_op.create_index("ix_financing_cases_stage", ["stage"], unique=False)

    op.create_table(
        "repayments",
        sa.Column("entry_ref", sa.String(length=80), nullable=False),
        sa.Column("financing_id", sa.String(length=40), nullable=False),
        sa.Column("amount_minor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("payer", sa.String(length=140), nullable=True),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["financing_id"], ["financings.id"], name=op.f("fk_repayments_financing_id_financings")
        ),
        sa.PrimaryKeyConstraint("entry_ref", name=op.f("pk_repayments")),
    )
    with op.batch_alter_table("repayments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_repayments_financing_id"), ["financing_id"], unique=False)


def _bind_registered_usccs() -> None:
    """The USCC bindings already implied by registered invoices (the first registration of each pairing)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT seller_id AS party, seller_uscc AS uscc, created_event FROM documents "
            "WHERE seller_uscc IS NOT NULL UNION ALL "
            "SELECT buyer_id, buyer_uscc, created_event FROM documents WHERE buyer_uscc IS NOT NULL "
            "ORDER BY created_event"
        )
    ).all()
    seen: set[str] = set()
    for party, uscc, event in rows:
        if party not in seen:
            seen.add(party)
            bind.execute(
                sa.text("INSERT INTO party_usccs (party_id, uscc, created_event) VALUES (:p, :u, :e)"),
                {"p": party, "u": uscc, "e": event},
            )


def downgrade() -> None:
    op.drop_index("ix_vouchers_obligor_status", table_name="vouchers")
    op.drop_index("ix_financings_voucher", table_name="financings")
    op.drop_index("ix_offers_voucher", table_name="offers")
    op.drop_table("party_usccs")
    with op.batch_alter_table("repayments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repayments_financing_id"))

    op.drop_table("repayments")
    with op.batch_alter_table("financing_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_financing_cases_stage")

    op.drop_table("financing_cases")
    with op.batch_alter_table("case_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_case_steps_financing")

    op.drop_table("case_steps")
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verifications_voucher_id"))
        batch_op.drop_index(batch_op.f("ix_verifications_subject_id"))

    op.drop_table("verifications")
    with op.batch_alter_table("invoice_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_uses_use")

    op.drop_table("invoice_uses")
    with op.batch_alter_table("case_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_files_financing_id"))

    op.drop_table("case_files")
