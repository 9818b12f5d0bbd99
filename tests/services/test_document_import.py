"""Importing trade documents from JSON, CSV and e-invoice XML: good rows become register-ready fields, bad rows
are reported by row number."""

from __future__ import annotations

import json

import pytest

from tests.services.documents_data import BUYER_USCC, SELLER_USCC, contract, invoice
from tierflow.services.document_import import (
    MAX_XML_BYTES,
    ImportFailed,
    from_csv,
    from_invoice_xml,
    from_json,
)
from tierflow.services.documents import build_document

SAMPLE_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<Invoices xmlns="urn:example:einvoice">
  <Invoice>
    <Number>26442000000012345678</Number>
    <IssueDate>2026-01-05</IssueDate>
    <Seller><Name>深圳一级供应商有限公司</Name><USCC>{SELLER_USCC}</USCC></Seller>
    <Buyer><Name>北京核心企业有限公司</Name><USCC>{BUYER_USCC}</USCC></Buyer>
    <Amount>1000.00</Amount>
    <Tax>130.00</Tax>
    <Total>1130.00</Total>
  </Invoice>
  <Invoice>
    <Number>26442000000012345679</Number>
    <IssueDate>2026-01-06</IssueDate>
    <Seller><Name>深圳一级供应商有限公司</Name><USCC>{SELLER_USCC}</USCC></Seller>
    <Buyer><Name>北京核心企业有限公司</Name><USCC>{BUYER_USCC}</USCC></Buyer>
    <Amount>1000.00</Amount>
    <Tax>130.00</Tax>
    <Total>1200.00</Total>
  </Invoice>
  <Invoice>
    <Number>26442000000012345680</Number>
    <IssueDate>2026-01-07</IssueDate>
    <Seller><Name>深圳一级供应商有限公司</Name><USCC>{SELLER_USCC}</USCC></Seller>
    <Buyer><Name>北京核心企业有限公司</Name></Buyer>
    <Amount>50</Amount>
    <Tax>0</Tax>
    <Total>50</Total>
  </Invoice>
</Invoices>
"""


def test_json_one_object_or_a_list() -> None:
    one = from_json(json.dumps(invoice()), "vat_invoice")
    assert one.ok and one.documents == [{**invoice(), "currency": "CNY"}] and one.rows == [1]
    bad = invoice(number="26442000000012345679", total="1.00")
    many = from_json(json.dumps([invoice(), bad, "not an object", contract("a", "b")]).encode(), "vat_invoice")
    assert many.rows == [1]
    assert [(e.row, e.field) for e in many.errors] == [(2, "total"), (3, None), (4, "buyer")]
    assert "row 2, total" in str(many.errors[0])


def test_json_refuses_floats_and_non_json() -> None:
    with pytest.raises(ImportFailed, match="decimal strings"):
        from_json('{"amount": 1000.5}', "vat_invoice")
    with pytest.raises(ImportFailed):
        from_json("{", "contract")


def test_csv_rows_are_numbered_from_the_header() -> None:
    header = "number,seller,buyer,signed_on,effective_from,effective_until,amount,currency,payment_terms_days"
    text = (
        "\n".join(
            [
                header,
                "SC-1,pty_a,pty_b,2026-01-02,2026-01-05,2026-12-31,1000000.00,CNY,90",
                "",
                "SC-2,pty_a,pty_b,2026-01-02,2026-01-05,2026-12-31,1000000.00,CNY,ninety",
                "SC-3,pty_a,pty_a,2026-01-02,2026-01-05,2026-12-31,10.00,CNY,30",
                "SC-4,pty_a,pty_b,2026-01-02,2026-01-05,2026-12-31,10.00,CNY",
                "SC-5,pty_a,pty_b,,2026-01-05,2026-12-31,10.00,CNY,30",
                "SC-6,pty_a,pty_b,2026-01-02,2026-01-05,2026-12-31,12.50,CNY,0",
            ]
        )
        + "\n"
    )
    result = from_csv(text, "contract")
    assert result.rows == [2, 8]
    assert result.documents[0] == contract("pty_a", "pty_b", number="SC-1")
    assert result.documents[1]["amount"] == "12.50" and result.documents[1]["payment_terms_days"] == 0
    assert [(e.row, e.field) for e in result.errors] == [
        (4, "payment_terms_days"),
        (5, "seller"),
        (6, None),
        (7, "signed_on"),
    ]
    for fields in result.documents:
        build_document("contract", fields)  # ready for document.register


def test_csv_header_must_name_the_type_fields() -> None:
    with pytest.raises(ImportFailed, match="colour"):
        from_csv("number,colour\nX,red\n", "delivery_note")
    with pytest.raises(ImportFailed, match="empty"):
        from_csv("", "delivery_note")
    notes = from_csv(
        'number,delivered_on,seller,buyer,contract_number,goods\nDN-1,2026-01-04,pty_a,pty_b,SC-1,"bolts, 400"\n',
        "delivery_note",
    )
    assert notes.ok and notes.documents[0]["goods"] == "bolts, 400"


def test_invoice_xml_sample() -> None:
    result = from_invoice_xml(SAMPLE_XML.encode("utf-8"))
    assert result.doc_type == "vat_invoice" and result.rows == [1]
    first = result.documents[0]
    assert first["number"] == "26442000000012345678" and first["seller_name"] == "深圳一级供应商有限公司"
    assert (first["amount"], first["tax"], first["total"], first["currency"]) == ("1000.00", "130.00", "1130.00", "CNY")
    assert [(e.row, e.field) for e in result.errors] == [(2, "total"), (3, "buyer_uscc")]
    single = from_invoice_xml(
        SAMPLE_XML.split('<Invoices xmlns="urn:example:einvoice">')[1].split("</Invoice>")[0] + "</Invoice>"
    )
    assert single.ok and single.documents == [first]


def test_invoice_xml_refuses_dtds_oversize_and_garbage() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Invoice><Number>&a;</Number></Invoice>'
    with pytest.raises(ImportFailed, match="DTD"):
        from_invoice_xml(bomb)
    with pytest.raises(ImportFailed, match="at most"):
        from_invoice_xml(b" " * (MAX_XML_BYTES + 1))
    with pytest.raises(ImportFailed, match="well-formed"):
        from_invoice_xml("<Invoice>")
    with pytest.raises(ImportFailed, match="no <Invoice>"):
        from_invoice_xml("<Other/>")
