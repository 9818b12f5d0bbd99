from datetime import date

import pytest

from tierflow.domain.money import Money
from tierflow.green.labels import (
    AmbiguousLabel,
    Evidence,
    GreenLabel,
    InvalidLabel,
    SubjectKind,
    select,
    totals,
    validate,
)
from tierflow.green.taxonomy import Taxonomy, TaxonomyRef, UnknownTaxonomyCode

EV = (Evidence("grid-connection certificate", "a" * 64),)


def label(subject: str, code: str, version: str = "2025", tid: str = "cn-gfspc", **kw: object) -> GreenLabel:
    crit = Taxonomy.load(tid, version).leaf(code).criteria[0]
    args: dict[str, object] = dict(
        label_id=f"L-{subject}-{code}",
        subject_kind=SubjectKind.FINANCING,
        subject_id=subject,
        taxonomy_id=tid,
        taxonomy_version=version,
        item_code=code,
        criterion_id=crit.id,
        criterion_text=crit.text,
        evidence=EV,
        certifier_id="certifier-1",
        valid_from=date(2025, 10, 1),
    )
    args.update(kw)
    return GreenLabel(**args)  # type: ignore[arg-type]


def test_validate_against_leaf() -> None:
    validate(label("F1", "4.2.2"))
    with pytest.raises(UnknownTaxonomyCode):
        validate(label("F1", "4.2.2", item_code="4.2"))
    with pytest.raises(UnknownTaxonomyCode):
        validate(label("F1", "4.2.2", criterion_id="nope"))
    with pytest.raises(InvalidLabel):
        validate(label("F1", "4.2.2", criterion_text="something else"))


def test_evidence_and_dates_checked() -> None:
    with pytest.raises(InvalidLabel):
        Evidence("x", "XYZ")
    with pytest.raises(InvalidLabel):
        label("F1", "4.2.2", evidence=())
    with pytest.raises(InvalidLabel):
        label("F1", "4.2.2", valid_to=date(2025, 1, 1))


def test_record_is_plain() -> None:
    rec = label("F1", "4.2.2").record()
    assert rec["taxonomy"] == {"id": "cn-gfspc", "version": "2025"}
    assert rec["subject"] == {"kind": "financing", "id": "F1"}


def test_totals_by_category_and_version() -> None:
    labels = [
        label("F1", "4.2.1"),
        label("F2", "4.2.2"),
        label("F3", "6.1.2"),
        label("F1", "3.2.2.1", version="2021", tid="cn-gbepc"),
        label("F4", "4.2.2", valid_to=date(2025, 12, 31)),
    ]
    amounts = {
        "F1": Money(100_000_00, "CNY"),
        "F2": Money(250_000_01, "CNY"),
        "F3": Money(5_00, "CNY"),
        "F4": Money(1_00, "CNY"),
    }
    rows = totals(labels, amounts, on=date(2026, 3, 31))
    by = {(r.taxonomy.version, r.code): r for r in rows}
    assert by[("2025", "4")].amount == Money(350_000_01, "CNY") and by[("2025", "4")].subjects == 2
    assert by[("2025", "4.2")].amount == Money(350_000_01, "CNY")
    assert by[("2025", "6.1.2")].amount == Money(5_00, "CNY")
    assert by[("2021", "3")].amount == Money(100_000_00, "CNY")
    assert by[("2021", "3.2.2.1")].level == 4
    assert sum(r.amount.minor for r in rows if r.level == 1 and r.taxonomy.version == "2025") == 350_005_01
    assert len(select(labels, taxonomy=TaxonomyRef("cn-gfspc", "2025"), category="4", on=date(2026, 1, 1))) == 2


def test_totals_refuses_two_items_for_one_subject() -> None:
    with pytest.raises(AmbiguousLabel):
        totals([label("F1", "4.2.1"), label("F1", "4.2.2")], {"F1": Money(1, "CNY")})
