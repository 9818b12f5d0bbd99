"""Tables of green finance: labels signed by certifiers, sustainability-linked terms of financings, and the
certified KPI observations that move their margin. All are projections rebuilt by replaying the journal.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, Integer, String, Table, Text

from tierflow.store.schema import metadata

green_labels = Table(
    "green_labels",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("taxonomy_id", String(40), nullable=False),
    Column("taxonomy_version", String(20), nullable=False),
    Column("item_code", String(32), nullable=False),
    Column("criterion_id", String(64), nullable=False),
    Column("record", Text, nullable=False),  # the label as signed (canonical JSON)
    Column("certifier_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("status", String(12), nullable=False),
    Column("created_event", String(40), nullable=False),
    Column("revoked_event", String(40), nullable=True),
    Index("ix_green_labels_subject", "subject_kind", "subject_id"),
    Index("ix_green_labels_taxonomy", "taxonomy_id", "taxonomy_version", "status"),
    CheckConstraint("status in ('active','revoked')", name="status"),
)

sll_terms = Table(
    "sll_terms",
    metadata,
    Column("financing_id", String(40), ForeignKey("financings.id"), primary_key=True),
    Column("terms", Text, nullable=False),  # canonical JSON of the terms as requested
    Column("created_event", String(40), nullable=False),
)

kpi_observations = Table(
    "kpi_observations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("financing_id", String(40), ForeignKey("financings.id"), nullable=False, index=True),
    Column("kpi_id", String(64), nullable=False),
    Column("year", Integer, nullable=False),
    Column("certifier_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("observation", Text, nullable=False),  # reported and recomputed values, factors, evidence
    Column("outcome", String(16), nullable=False),
    Column("adjustment_bp", Integer, nullable=False),
    Column("assessment", Text, nullable=False),
    Column("created_event", String(40), nullable=False),
    Index("uq_kpi_observations_once", "financing_id", "kpi_id", "year", unique=True),
)
