"""Reading green finance: labels, a financing's sustainability-linked terms and assessments, and an institution's
green financing totalled by taxonomy category and edition.

Visibility follows the subjects: a label is shown to its certifier, the operator, and the parties of what it
labels (the applicant and institution of a labelled financing, the holders' obligor of a labelled voucher, the
labelled enterprise). Totals count only the viewer's own disbursed financings, labelled directly or through the
voucher (asset) they finance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from tierflow.domain.model import Financing, FinancingStatus, Party, Role
from tierflow.domain.money import Money
from tierflow.green.labels import Evidence, GreenLabel, SubjectKind, totals
from tierflow.services.errors import NotFound
from tierflow.services.ports import LabelRecord, UnitOfWorkFactory


def label_from_record(record: LabelRecord) -> GreenLabel:
    data = json.loads(record.record)
    return GreenLabel(
        label_id=record.id,
        subject_kind=SubjectKind(record.subject_kind),
        subject_id=record.subject_id,
        taxonomy_id=record.taxonomy_id,
        taxonomy_version=record.taxonomy_version,
        item_code=record.item_code,
        criterion_id=record.criterion_id,
        criterion_text=str(data["criterion"]["text"]),
        evidence=tuple(Evidence(e["description"], e["sha256"]) for e in data["evidence"]),
        certifier_id=record.certifier_id,
        valid_from=record.valid_from,
        valid_to=record.valid_to,
    )


def label_json(record: LabelRecord) -> dict[str, Any]:
    return {**json.loads(record.record), "status": record.status}


class GreenService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def labels(
        self, viewer: Party, *, subject_id: str | None = None, taxonomy: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        with self._uow(read_only=True) as uow:
            records = uow.repo.labels(subject_id=subject_id, taxonomy_id=taxonomy, limit=limit)
            visible = [r for r in records if self._may_see(uow.repo, viewer, r)]
        return [label_json(r) for r in visible]

    @staticmethod
    def _may_see(repo: Any, viewer: Party, record: LabelRecord) -> bool:
        if viewer.role is Role.OPERATOR or viewer.id == record.certifier_id:
            return True
        if record.subject_kind == SubjectKind.FINANCING.value:
            financing = repo.get_financing(record.subject_id)
            return financing is not None and viewer.id in (financing.applicant, financing.financier)
        if record.subject_kind == SubjectKind.ENTERPRISE.value:
            return bool(viewer.id == record.subject_id)
        if record.subject_kind == SubjectKind.ASSET.value:
            voucher = repo.get_voucher(record.subject_id)
            if voucher is None:
                return False
            if viewer.id in (voucher.obligor, voucher.first_holder):
                return True
            # An institution that financed part of the voucher sees its labels (they count in its green totals).
            return viewer.role is Role.FINANCIER and any(
                f.voucher_id == voucher.id for f in repo.financings_of(viewer.id, FinancingStatus.FUNDED.value)
            )
        return viewer.role is Role.FINANCIER  # projects: the institutions that may finance them

    def sustainability(self, viewer: Party, financing_id: str) -> dict[str, Any]:
        with self._uow(read_only=True) as uow:
            financing = uow.repo.get_financing(financing_id)
            if financing is None or (
                viewer.id not in (financing.applicant, financing.financier) and viewer.role is not Role.OPERATOR
            ):
                raise NotFound(f"No financing {financing_id!r} visible to you.", financing_id=financing_id)
            terms = uow.repo.sll_terms(financing_id)
            observations = uow.repo.kpi_observations(financing_id)
        return {
            "financing_id": financing_id,
            "base_rate": str(financing.annual_rate),
            "terms": None if terms is None else json.loads(terms),
            "certifications": [
                {
                    "kpi_id": o.kpi_id,
                    "year": o.year,
                    "certifier": o.certifier_id,
                    "observation": json.loads(o.observation),
                    "assessment": json.loads(o.assessment),
                }
                for o in observations
            ],
        }

    def totals(self, viewer: Party, *, taxonomy: str | None = None, on: date | None = None) -> list[dict[str, Any]]:
        """The viewer's disbursed financings with a green label (on the financing or its voucher), totalled per
        taxonomy edition, level and category, in exact money."""
        with self._uow(read_only=True) as uow:
            repo = uow.repo
            funded: Sequence[Financing] = repo.financings_of(viewer.id, FinancingStatus.FUNDED.value)
            by_voucher: dict[str, list[Financing]] = {}
            for f in funded:
                by_voucher.setdefault(f.voucher_id, []).append(f)
            records = repo.labels_for_subjects(
                [("financing", f.id) for f in funded] + [("asset", v) for v in by_voucher], taxonomy_id=taxonomy
            )
        active = [r for r in records if r.status == "active"]
        # A financing labelled itself counts by its own label, not again through its voucher's.
        labelled = {r.subject_id for r in active if r.subject_kind == SubjectKind.FINANCING.value}
        by_id = {f.id: f for f in funded}
        labels = []
        amounts: dict[str, Money] = {}
        for record in active:
            if record.subject_kind == SubjectKind.FINANCING.value:
                financing = by_id[record.subject_id]
                amounts[financing.id] = Money(financing.amount_minor, financing.currency)
            else:
                financed = [f for f in by_voucher[record.subject_id] if f.id not in labelled]
                if not financed:
                    continue
                amounts[record.subject_id] = Money(sum(f.amount_minor for f in financed), financed[0].currency)
            labels.append(label_from_record(record))
        rows = totals(labels, amounts, on=on)
        return [
            {
                "taxonomy": row.taxonomy.id,
                "version": row.taxonomy.version,
                "level": row.level,
                "code": row.code,
                "name": row.name_en,
                "amount": row.amount.to_str(),
                "currency": row.amount.currency,
                "subjects": row.subjects,
            }
            for row in rows
        ]
