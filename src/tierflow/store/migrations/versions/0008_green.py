"""Green finance: the certifier role, green labels, sustainability-linked terms and certified KPI observations.

Revision ID: 0008
Revises: 0007

The parties' role check gains 'certifier'. PostgreSQL replaces the constraint. SQLite cannot alter a CHECK
constraint in place, and rebuilding ``parties`` (which other tables reference) would trip the foreign keys that
this platform keeps on; widening a CHECK does not change how rows are stored, which is the case SQLite's
documentation allows to be done by editing the table's stored definition ("Making Other Kinds Of Table Schema
Changes", lang_altertable.html): ``writable_schema``, one ``UPDATE`` of ``sqlite_master``, and a bumped
``schema_version`` so that every connection reloads the schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD_ROLES = "'core_enterprise','supplier','financial_institution','operator'"
NEW_ROLES = OLD_ROLES + ",'certifier'"


def _set_roles(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
        bind.exec_driver_sql("PRAGMA writable_schema=ON")
        bind.execute(
            sa.text(
                "UPDATE sqlite_master SET sql = replace(sql, :old, :new) WHERE type = 'table' AND name = 'parties'"
            ),
            {"old": f"role in ({old})", "new": f"role in ({new})"},
        )
        bind.exec_driver_sql(f"PRAGMA schema_version={version + 1}")
        bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    else:
        op.drop_constraint(op.f("ck_parties_role"), "parties", type_="check")
        op.create_check_constraint(op.f("ck_parties_role"), "parties", f"role in ({new})")


def upgrade() -> None:
    _set_roles(OLD_ROLES, NEW_ROLES)
    op.create_table(
        "green_labels",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("taxonomy_id", sa.String(length=40), nullable=False),
        sa.Column("taxonomy_version", sa.String(length=20), nullable=False),
        sa.Column("item_code", sa.String(length=32), nullable=False),
        sa.Column("criterion_id", sa.String(length=64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("certifier_id", sa.String(length=40), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.Column("revoked_event", sa.String(length=40), nullable=True),
        sa.CheckConstraint("status in ('active','revoked')", name=op.f("ck_green_labels_status")),
        sa.ForeignKeyConstraint(["certifier_id"], ["parties.id"], name=op.f("fk_green_labels_certifier_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_green_labels")),
    )
    with op.batch_alter_table("green_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_green_labels_certifier_id"), ["certifier_id"], unique=False)
        batch_op.create_index("ix_green_labels_subject", ["subject_kind", "subject_id"], unique=False)
        batch_op.create_index("ix_green_labels_taxonomy", ["taxonomy_id", "taxonomy_version", "status"], unique=False)

    op.create_table(
        "kpi_observations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("financing_id", sa.String(length=40), nullable=False),
        sa.Column("kpi_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("certifier_id", sa.String(length=40), nullable=False),
        sa.Column("observation", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("adjustment_bp", sa.Integer(), nullable=False),
        sa.Column("assessment", sa.Text(), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["certifier_id"], ["parties.id"], name=op.f("fk_kpi_observations_certifier_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["financing_id"], ["financings.id"], name=op.f("fk_kpi_observations_financing_id_financings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_observations")),
    )
    with op.batch_alter_table("kpi_observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kpi_observations_financing_id"), ["financing_id"], unique=False)
        batch_op.create_index("uq_kpi_observations_once", ["financing_id", "kpi_id", "year"], unique=True)

    op.create_table(
        "sll_terms",
        sa.Column("financing_id", sa.String(length=40), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("created_event", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["financing_id"], ["financings.id"], name=op.f("fk_sll_terms_financing_id_financings")),
        sa.PrimaryKeyConstraint("financing_id", name=op.f("pk_sll_terms")),
    )


def downgrade() -> None:
    _set_roles(NEW_ROLES, OLD_ROLES)
    op.drop_table("sll_terms")
    with op.batch_alter_table("kpi_observations", schema=None) as batch_op:
        batch_op.drop_index("uq_kpi_observations_once")
        batch_op.drop_index(batch_op.f("ix_kpi_observations_financing_id"))

    op.drop_table("kpi_observations")
    with op.batch_alter_table("green_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_green_labels_taxonomy")
        batch_op.drop_index("ix_green_labels_subject")
        batch_op.drop_index(batch_op.f("ix_green_labels_certifier_id"))

    op.drop_table("green_labels")
