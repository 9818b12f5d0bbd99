"""The financing contract PDF: deterministic, carries the terms, survives non-Latin-1 names."""

from __future__ import annotations

import dataclasses
from datetime import date
from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from tierflow.integrations.contract_pdf import ContractTerms, _font_dirs, render_contract

TERMS = ContractTerms(
    contract_number="TF-FC-2025-000042",
    financing_id="fin-7f3a",
    applicant_id="party-supplier-1",
    applicant_name="Acme Components Co., Ltd.",
    financier_id="party-bank-1",
    financier_name="Example Bank, Shenzhen Branch",
    obligor_id="party-core-1",
    obligor_name="Core Manufacturing Group",
    voucher_id="vch-0001",
    unit_range="1-500000",
    currency="CNY",
    amount="500000.00",
    discount="5687.50",
    fee="500.00",
    net="493812.50",
    annual_rate="0.0450",
    basis="ACT/360",
    value_date=date(2025, 3, 3),
    maturity=date(2025, 6, 3),
    recourse=True,
    invoice_numbers=("44031234", "44031235"),
    trade_contract="PO-2025-0117",
    generated_on=date(2025, 3, 1),
)


def page_text(pdf: bytes) -> bytes:
    """The decoded content streams of every page (core-font text appears there as literal strings)."""
    reader = PdfFileReader(BytesIO(pdf))
    pages = [kid.get_object() for kid in reader.root["/Pages"]["/Kids"]]
    return b"\n".join(page["/Contents"].data for page in pages)


def test_rendering_is_deterministic() -> None:
    first = render_contract(TERMS)
    assert first.startswith(b"%PDF-")
    assert render_contract(TERMS) == first
    assert render_contract(dataclasses.replace(TERMS, generated_on=date(2025, 3, 2))) != first


def test_metadata_is_fixed_by_the_terms() -> None:
    reader = PdfFileReader(BytesIO(render_contract(TERMS)))
    info = reader.trailer["/Info"]
    assert str(info["/CreationDate"]).startswith("D:20250301")
    assert "TF-FC-2025-000042" in str(info["/Title"])
    first_id, second_id = reader.trailer["/ID"]
    assert first_id == second_id


def test_contract_states_the_terms() -> None:
    text = page_text(render_contract(TERMS))
    for expected in (
        b"TF-FC-2025-000042",
        b"500000.00",
        b"5687.50",
        b"493812.50",
        b"4.50%",
        b"vch-0001",
        b"1-500000",
        b"44031234, 44031235",
        b"PO-2025-0117",
        b"2025-06-03",
        b"Acme Components Co., Ltd.",
        b"Example Bank, Shenzhen Branch",
        b"For the Applicant",
        b"For the Financial Institution",
    ):
        assert expected in text, expected


def test_recourse_clause_follows_the_terms() -> None:
    with_recourse = page_text(render_contract(TERMS))
    without = page_text(render_contract(dataclasses.replace(TERMS, recourse=False)))
    assert b"factoring with recourse" in with_recourse
    assert b"Article 766" in with_recourse
    assert b"without recourse" not in with_recourse
    assert b"factoring without recourse" in without
    assert b"Article 767" in without
    assert b"repurchase" not in without


def test_non_latin1_names_are_escaped_with_core_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tierflow.integrations.contract_pdf.find_cjk_font", lambda: None)
    terms = dataclasses.replace(TERMS, applicant_name="深圳华强电子有限公司", trade_contract="采购合同-7")
    pdf = render_contract(terms)
    assert render_contract(terms) == pdf
    text = page_text(pdf)
    # the PDF string escapes the backslash, so "\u6df1" is written as "\\u6df1"
    assert b"\\\\u6df1\\\\u5733" in text
    assert b"TF-FC-2025-000042" in text


def test_a_unicode_font_is_embedded_when_given() -> None:
    fonts = [d / "truetype" / "dejavu" / "DejaVuSans.ttf" for d in _font_dirs()]
    fonts = [path for path in fonts if path.is_file()]
    if not fonts:
        pytest.skip("DejaVu Sans (Debian's fonts-dejavu-core) is not installed")
    terms = dataclasses.replace(TERMS, applicant_name="ООО Ромашка")
    pdf = render_contract(terms, unicode_font=(fonts[0], 0))
    assert pdf == render_contract(terms, unicode_font=(fonts[0], 0))
    assert b"/FontFile2" in pdf
    # the core-font path embeds no font program
    assert b"/FontFile2" not in render_contract(TERMS)
