"""Reading trade documents from files: JSON, CSV and the fully digital VAT e-invoice's XML.

Each reader returns an ``Imported``: the ``fields`` dicts ready for the body of a ``document.register``
command (the normalised wire form of ``tierflow.services.documents``), and a ``RowError`` for every row that
does not make a valid document. Rows are numbered as a person would find them: the position in the JSON list
(1 for a single object), the line of the CSV file (the header is row 1, so the first document is row 2), and
the position of the ``<Invoice>`` element in the XML file. Each row is validated by building the domain
document, so a row that imports is one that ``document.register`` accepts as to its fields (the party checks
and the duplicate check happen at registration).

CSV: a header row with the wire field names of the type, then one document per row; an empty cell is a missing
field; ``payment_terms_days`` is read as an integer.

XML (``from_invoice_xml``): a simple layout of our own for the fully digital e-invoice (全电发票), one
``<Invoice>`` element per document, either as the root or as children of any root (e.g. ``<Invoices>``)::

    <Invoice>
      <Number>26442000000012345678</Number>       20 digits (发票号码)
      <IssueDate>2026-01-05</IssueDate>           开票日期
      <Seller><Name>…</Name><USCC>…</USCC></Seller>   销售方 名称 / 统一社会信用代码
      <Buyer><Name>…</Name><USCC>…</USCC></Buyer>     购买方
      <Amount>1000.00</Amount>                    金额 (without tax)
      <Tax>130.00</Tax>                           税额
      <Total>1130.00</Total>                      价税合计
    </Invoice>

Element names are matched without their namespace. The XML is parsed with the standard library's
``xml.etree.ElementTree``: ``defusedxml`` is not installed in this environment. To stay safe with untrusted
files, the input is capped at ``MAX_XML_BYTES`` and any document with a DTD (``<!DOCTYPE``/``<!ENTITY``) is
refused before parsing, which rules out entity-expansion and external-entity attacks (ElementTree does not
fetch external entities in any case).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

from tierflow.domain.errors import DomainError
from tierflow.services.documents import FIELDS, VAT_INVOICE, build_document, check_type, document_fields

MAX_JSON_BYTES = 5 * 1024 * 1024
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_XML_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
INTEGER_FIELDS = frozenset({"payment_terms_days"})


class ImportFailed(DomainError):
    """The file as a whole cannot be read (too large, not JSON/CSV/XML, wrong header)."""

    code = "import_failed"


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str | None
    message: str
    code: str = "invalid_document"

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


@dataclass(slots=True)
class Imported:
    doc_type: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # the row number of each document
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(data: str | bytes, limit: int, what: str) -> str:
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    if size > limit:
        raise ImportFailed(f"The {what} is {size} bytes; at most {limit} are read.", size=size, limit=limit)
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ImportFailed(f"The {what} is not UTF-8: {error}.") from None
    return data.removeprefix("\ufeff")


def _add(result: Imported, row: int, fields: object) -> None:
    try:
        document = build_document(result.doc_type, fields)
    except DomainError as error:
        name = error.fields.get("field")
        result.errors.append(RowError(row, name if isinstance(name, str) else None, error.message, error.code))
        return
    result.documents.append(document_fields(document))
    result.rows.append(row)


def _check_rows(count: int) -> None:
    if count > MAX_ROWS:
        raise ImportFailed(f"The file has {count} documents; at most {MAX_ROWS} are imported at once.")


def from_json(data: str | bytes, doc_type: str) -> Imported:
    """One JSON object of fields, or a list of them (amounts as decimal strings, dates ISO)."""
    kind = check_type(doc_type)
    try:
        parsed = json.loads(_text(data, MAX_JSON_BYTES, "JSON file"), parse_float=_no_float)
    except ValueError as error:
        raise ImportFailed(f"The file is not JSON: {error}.") from None
    items = parsed if isinstance(parsed, list) else [parsed]
    _check_rows(len(items))
    result = Imported(kind)
    for row, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            result.errors.append(RowError(row, None, "a document must be a JSON object of fields"))
            continue
        _add(result, row, item)
    return result


def _no_float(text: str) -> Any:
    raise ValueError(f"amounts are decimal strings, not JSON numbers ({text})")


def from_csv(data: str | bytes, doc_type: str) -> Imported:
    """A header row with the type's field names, then one document per row."""
    kind = check_type(doc_type)
    reader = csv.reader(io.StringIO(_text(data, MAX_CSV_BYTES, "CSV file"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed("The CSV file is empty; it needs a header row.") from None
    except csv.Error as error:
        raise ImportFailed(f"The CSV file cannot be read: {error}.") from None
    names = [h.strip() for h in header]
    unknown = sorted(n for n in names if n not in FIELDS[kind])
    if unknown or len(set(names)) != len(names):
        raise ImportFailed(
            f"The CSV header must name {kind} fields once each; unknown: {', '.join(unknown) or 'none'}.",
            unknown=unknown,
        )
    result = Imported(kind)
    try:
        for cells in reader:
            row = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank line
            _check_rows(len(result.rows) + len(result.errors) + 1)
            if len(cells) != len(names):
                message = f"the row has {len(cells)} cells; the header has {len(names)}"
                result.errors.append(RowError(row, None, message))
                continue
            fields: dict[str, Any] = {}
            bad = False
            for name, cell in zip(names, cells, strict=True):
                value = cell.strip()
                if not value:
                    continue
                if name in INTEGER_FIELDS:
                    try:
                        fields[name] = int(value)
                    except ValueError:
                        result.errors.append(RowError(row, name, f"{kind}.{name} must be an integer; got {value!r}"))
                        bad = True
                        break
                else:
                    fields[name] = value
            if not bad:
                _add(result, row, fields)
    except csv.Error as error:
        raise ImportFailed(f"The CSV file cannot be read at line {reader.line_num}: {error}.") from None
    return result


# The XML layout: wire field -> path of child elements under <Invoice>.
INVOICE_XML: dict[str, tuple[str, ...]] = {
    "number": ("Number",),
    "issued_on": ("IssueDate",),
    "seller_name": ("Seller", "Name"),
    "seller_uscc": ("Seller", "USCC"),
    "buyer_name": ("Buyer", "Name"),
    "buyer_uscc": ("Buyer", "USCC"),
    "amount": ("Amount",),
    "tax": ("Tax",),
    "total": ("Total",),
}


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def from_invoice_xml(data: str | bytes) -> Imported:
    """Fully digital VAT e-invoices in the layout described in the module docstring."""
    text = _text(data, MAX_XML_BYTES, "XML file")
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise ImportFailed("XML with a document type declaration (DTD) is refused.")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ImportFailed(f"The file is not well-formed XML: {error}.") from None
    invoices = [root] if _local(root.tag) == "Invoice" else [e for e in root if _local(e.tag) == "Invoice"]
    if not invoices:
        raise ImportFailed("The XML file has no <Invoice> element.")
    _check_rows(len(invoices))
    result = Imported(VAT_INVOICE)
    for row, invoice in enumerate(invoices, start=1):
        fields: dict[str, str] = {}
        for name, path in INVOICE_XML.items():
            node: ElementTree.Element | None = invoice
            for step in path:
                node = _child(node, step) if node is not None else None
            if node is not None and node.text is not None and node.text.strip():
                fields[name] = node.text.strip()
        _add(result, row, fields)
    return result
