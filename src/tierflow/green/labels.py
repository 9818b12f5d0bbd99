"""Green labels on assets, projects, enterprises and financings, and green-financing totals.

Design overview
---------------

A ``GreenLabel`` is an immutable statement "subject X meets criterion C of item I of taxonomy T at version V",
with the evidence (description plus SHA-256 of each document) and the certifier party who vouches for it.
``validate`` checks it against the packaged taxonomy edition: the code must be a leaf item of that edition and the
criterion one of that item's criteria. ``record`` gives the plain, canonical payload a certifier signs as a journal
event; this module does no I/O and signs nothing.

``totals`` sums financed amounts (``Money``, exact integer minor units) of labelled subjects per taxonomy edition,
level, category and currency, so a bank can list and total its green financing by category and catalogue version.
A subject counts once per edition: two labels of the same subject in one edition on different items are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.domain.money import Money
from tierflow.green.taxonomy import Taxonomy, TaxonomyRef

_SHA256 = re.compile(r"[0-9a-f]{64}")


class InvalidLabel(DomainError):
    code = "invalid_green_label"
    kind = ErrorKind.INVALID


class AmbiguousLabel(DomainError):
    code = "ambiguous_green_label"
    kind = ErrorKind.CONFLICT


class SubjectKind(StrEnum):
    ASSET = "asset"
    PROJECT = "project"
    ENTERPRISE = "enterprise"
    FINANCING = "financing"


@dataclass(frozen=True, slots=True)
class Evidence:
    """A supporting document, identified by its SHA-256 (lower-case hex)."""

    description: str
    sha256: str

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise InvalidLabel("evidence needs a description")
        if not _SHA256.fullmatch(self.sha256):
            raise InvalidLabel(f"evidence sha256 must be 64 lower-case hex digits; got {self.sha256!r}")


@dataclass(frozen=True, slots=True)
class GreenLabel:
    """A certified green classification of one subject under one taxonomy edition."""

    label_id: str
    subject_kind: SubjectKind
    subject_id: str
    taxonomy_id: str
    taxonomy_version: str
    item_code: str
    criterion_id: str
    criterion_text: str
    evidence: tuple[Evidence, ...]
    certifier_id: str
    valid_from: date
    valid_to: date | None = None
    notes: str = field(default="")

    def __post_init__(self) -> None:
        for name in ("label_id", "subject_id", "taxonomy_id", "taxonomy_version", "item_code", "certifier_id"):
            if not getattr(self, name):
                raise InvalidLabel(f"{name} is required")
        object.__setattr__(self, "subject_kind", SubjectKind(self.subject_kind))
        if not self.evidence:
            raise InvalidLabel("a label needs at least one piece of evidence", label_id=self.label_id)
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise InvalidLabel("valid_to is before valid_from", label_id=self.label_id)

    @property
    def taxonomy(self) -> TaxonomyRef:
        return TaxonomyRef(self.taxonomy_id, self.taxonomy_version)

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def record(self) -> dict[str, object]:
        """Plain payload for a signed journal event (strings, lists and dicts only)."""
        return {
            "label_id": self.label_id,
            "subject": {"kind": str(self.subject_kind), "id": self.subject_id},
            "taxonomy": {"id": self.taxonomy_id, "version": self.taxonomy_version},
            "item_code": self.item_code,
            "criterion": {"id": self.criterion_id, "text": self.criterion_text},
            "evidence": [{"description": e.description, "sha256": e.sha256} for e in self.evidence],
            "certifier_id": self.certifier_id,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
        }


def validate(label: GreenLabel, taxonomy: Taxonomy | None = None) -> None:
    """Check the label against its taxonomy edition (loaded when not given); raises on mismatch."""
    tax = taxonomy if taxonomy is not None else Taxonomy.load(label.taxonomy_id, label.taxonomy_version)
    if tax.ref != label.taxonomy:
        raise InvalidLabel(f"label is for {label.taxonomy}, taxonomy given is {tax.ref}")
    item = tax.leaf(label.item_code)
    crit = item.criterion(label.criterion_id)
    if label.criterion_text and label.criterion_text != crit.text:
        raise InvalidLabel("criterion text differs from the taxonomy's", label_id=label.label_id)


@dataclass(frozen=True, slots=True)
class TotalRow:
    """Green financing under one category of one taxonomy edition, in one currency."""

    taxonomy: TaxonomyRef
    level: int
    code: str
    name_en: str
    amount: Money
    subjects: int


def select(
    labels: Iterable[GreenLabel],
    *,
    taxonomy: TaxonomyRef | None = None,
    category: str | None = None,
    on: date | None = None,
) -> tuple[GreenLabel, ...]:
    """Labels (optionally) of one edition, under one category code, valid on ``on``."""
    out: list[GreenLabel] = []
    for label in labels:
        if taxonomy is not None and label.taxonomy != taxonomy:
            continue
        if on is not None and not label.valid_on(on):
            continue
        if category is not None:
            tax = Taxonomy.load(label.taxonomy_id, label.taxonomy_version)
            if category not in {n.code for n in tax.path(label.item_code)}:
                continue
        out.append(label)
    return tuple(out)


def totals(
    labels: Iterable[GreenLabel],
    financed_amounts: Mapping[str, Money],
    *,
    on: date | None = None,
) -> tuple[TotalRow, ...]:
    """Financed amounts of labelled subjects summed per edition, level, category and currency.

    ``financed_amounts`` maps a label's ``subject_id`` to the amount financed; subjects without an amount are
    skipped. Rows are sorted by edition, level, code and currency.
    """
    chosen: dict[tuple[TaxonomyRef, str], GreenLabel] = {}
    for label in labels:
        if on is not None and not label.valid_on(on):
            continue
        key = (label.taxonomy, label.subject_id)
        prior = chosen.get(key)
        if prior is not None and prior.item_code != label.item_code:
            raise AmbiguousLabel(
                f"{label.subject_id} carries {prior.item_code} and {label.item_code} under {label.taxonomy}",
                subject_id=label.subject_id,
            )
        chosen[key] = label
    sums: dict[tuple[str, str, int, str, str], list[int]] = {}
    names: dict[tuple[str, str, str], str] = {}
    for (ref, subject), label in chosen.items():
        money = financed_amounts.get(subject)
        if money is None:
            continue
        tax = Taxonomy.load(ref.id, ref.version)
        validate(label, tax)
        for node in tax.path(label.item_code):
            names[(ref.id, ref.version, node.code)] = node.name_en
            acc = sums.setdefault((ref.id, ref.version, node.level, node.code, money.currency), [0, 0])
            acc[0] += money.minor
            acc[1] += 1
    rows = [
        TotalRow(TaxonomyRef(tid, ver), level, code, names[(tid, ver, code)], Money(minor, cur), n)
        for (tid, ver, level, code, cur), (minor, n) in sums.items()
    ]
    rows.sort(key=lambda r: (r.taxonomy.id, r.taxonomy.version, r.level, r.code, r.amount.currency))
    return tuple(rows)
