"""Trade documents as the API and the journal carry them: ``fields`` JSON ↔ the domain's document values.

On the wire (``document.register`` bodies, import helpers) a document's fields are JSON with amounts as decimal
strings (``"1130.00"``) and dates as ``YYYY-MM-DD``; the domain (``tierflow.domain.documents``) holds integer
minor units and ``date`` values. ``build_document`` converts and validates (every refusal is an
``InvalidDocument`` or ``InvalidUscc`` naming the wire field in ``fields["field"]``); ``document_fields`` gives
the normalised wire form of a document, which is what the platform stores.

Wire fields by type (all required unless marked optional):

- ``contract``: ``number``, ``seller``, ``buyer`` (party ids), ``signed_on``, ``effective_from``,
  ``effective_until``, ``amount``, ``currency``, ``payment_terms_days`` (integer);
- ``vat_invoice``: ``number`` (20 digits), ``issued_on``, ``seller_name``, ``seller_uscc``, ``buyer_name``,
  ``buyer_uscc``, ``amount``, ``tax``, ``total`` (CNY), ``currency`` (optional, ``CNY``);
- ``delivery_note``: ``number``, ``delivered_on``, ``seller``, ``buyer`` (party ids), ``contract_number``,
  ``goods``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from tierflow.domain.documents import Contract, DeliveryNote, Document, InvalidDocument, VatInvoice
from tierflow.domain.errors import DomainError
from tierflow.domain.money import CURRENCIES

MAX_TEXT = 200
MAX_GOODS = 1000

CONTRACT, VAT_INVOICE, DELIVERY_NOTE = "contract", "vat_invoice", "delivery_note"
TYPES: tuple[str, ...] = (CONTRACT, VAT_INVOICE, DELIVERY_NOTE)

# Wire field -> (kind of value, required). Kinds: text, date, money, int.
FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    CONTRACT: {
        "number": ("text", True),
        "seller": ("text", True),
        "buyer": ("text", True),
        "signed_on": ("date", True),
        "effective_from": ("date", True),
        "effective_until": ("date", True),
        "amount": ("money", True),
        "currency": ("text", True),
        "payment_terms_days": ("int", True),
    },
    VAT_INVOICE: {
        "number": ("text", True),
        "issued_on": ("date", True),
        "seller_name": ("text", True),
        "seller_uscc": ("text", True),
        "buyer_name": ("text", True),
        "buyer_uscc": ("text", True),
        "amount": ("money", True),
        "tax": ("money", True),
        "total": ("money", True),
        "currency": ("text", False),
    },
    DELIVERY_NOTE: {
        "number": ("text", True),
        "delivered_on": ("date", True),
        "seller": ("text", True),
        "buyer": ("text", True),
        "contract_number": ("text", True),
        "goods": ("text", True),
    },
}

# Domain field -> wire field, where they differ (errors name the wire field).
_WIRE_NAME = {"amount_minor": "amount", "tax_minor": "tax", "total_minor": "total"}
_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


def _refuse(doc_type: str, name: str, message: str) -> InvalidDocument:
    return InvalidDocument(f"{doc_type}.{name} {message}", document=doc_type, field=name)


def _text(doc_type: str, name: str, value: object) -> str:
    limit = MAX_GOODS if name == "goods" else MAX_TEXT
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _refuse(doc_type, name, f"must be non-empty text of at most {limit} characters; got {value!r}")
    return value


def _date(doc_type: str, name: str, value: object) -> date:
    if not isinstance(value, str):
        raise _refuse(doc_type, name, f"must be a date (YYYY-MM-DD); got {value!r}")
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise _refuse(doc_type, name, f"is not a date (YYYY-MM-DD): {value!r}") from None


def _int(doc_type: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(doc_type, name, f"must be an integer; got {value!r}")
    return value


def _minor(doc_type: str, name: str, value: object, currency: str) -> int:
    """A non-negative decimal string with at most the currency's decimals, as minor units."""
    exp = CURRENCIES[currency]
    match = _DECIMAL.fullmatch(value) if isinstance(value, str) and len(value) <= 24 else None
    if match is None:
        raise _refuse(doc_type, name, f'must be a non-negative decimal string such as "1130.00"; got {value!r}')
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > exp:
        raise _refuse(doc_type, name, f"has more than {exp} decimal places for {currency}: {value!r}")
    return int(whole + frac.ljust(exp, "0"))


def _money_text(minor: int, currency: str) -> str:
    exp = CURRENCIES[currency]
    if exp == 0:
        return str(minor)
    digits = str(minor).rjust(exp + 1, "0")
    return f"{digits[:-exp]}.{digits[-exp:]}"


def check_type(doc_type: object) -> str:
    if not isinstance(doc_type, str) or doc_type not in TYPES:
        raise InvalidDocument(
            f"document type must be one of {', '.join(TYPES)}; got {doc_type!r}", field="type", value=str(doc_type)
        )
    return doc_type


def build_document(doc_type: object, fields: object) -> Document:
    """The domain document for wire ``fields`` of ``doc_type``; raises ``InvalidDocument``/``InvalidUscc``."""
    kind = check_type(doc_type)
    if not isinstance(fields, Mapping):
        raise InvalidDocument("'fields' must be a JSON object.", document=kind, field="fields")
    spec = FIELDS[kind]
    unexpected = sorted(str(k) for k in fields if k not in spec)
    if unexpected:
        raise InvalidDocument(
            f"{kind} has no field(s) {', '.join(unexpected)}", document=kind, field=unexpected[0], unexpected=unexpected
        )
    for name, (_, required) in spec.items():
        if required and name not in fields:
            raise _refuse(kind, name, "is missing")
    currency = fields.get("currency", "CNY")
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise _refuse(kind, "currency", f"is not a supported currency: {currency!r}")
    values: dict[str, Any] = {}
    for name, (value_kind, _) in spec.items():
        if name not in fields:
            continue
        raw = fields[name]
        if value_kind == "date":
            values[name] = _date(kind, name, raw)
        elif value_kind == "int":
            values[name] = _int(kind, name, raw)
        elif value_kind == "money":
            values[name + "_minor"] = _minor(kind, name, raw, currency)
        else:
            values[name] = _text(kind, name, raw)
    try:
        if kind == CONTRACT:
            return Contract(**values)
        if kind == VAT_INVOICE:
            return VatInvoice(**values)
        return DeliveryNote(**values)
    except InvalidDocument as error:
        raise _wire_error(error) from None


def _wire_error(error: InvalidDocument) -> DomainError:
    """The same error, with ``fields["field"]`` naming the wire field (``total``, not ``total_minor``)."""
    field = error.fields.get("field")
    if not isinstance(field, str) or field not in _WIRE_NAME:
        return error
    renamed = type(error)(error.message, **{**error.fields, "field": _WIRE_NAME[field]})
    return renamed


def document_fields(document: Document) -> dict[str, Any]:
    """The normalised wire fields of ``document`` (what ``build_document`` accepts back)."""
    if isinstance(document, Contract):
        return {
            "number": document.number,
            "seller": document.seller,
            "buyer": document.buyer,
            "signed_on": document.signed_on.isoformat(),
            "effective_from": document.effective_from.isoformat(),
            "effective_until": document.effective_until.isoformat(),
            "amount": _money_text(document.amount_minor, document.currency),
            "currency": document.currency,
            "payment_terms_days": document.payment_terms_days,
        }
    if isinstance(document, VatInvoice):
        return {
            "number": document.number,
            "issued_on": document.issued_on.isoformat(),
            "seller_name": document.seller_name,
            "seller_uscc": document.seller_uscc,
            "buyer_name": document.buyer_name,
            "buyer_uscc": document.buyer_uscc,
            "amount": _money_text(document.amount_minor, document.currency),
            "tax": _money_text(document.tax_minor, document.currency),
            "total": _money_text(document.total_minor, document.currency),
            "currency": document.currency,
        }
    return {
        "number": document.number,
        "delivered_on": document.delivered_on.isoformat(),
        "seller": document.seller,
        "buyer": document.buyer,
        "contract_number": document.contract_number,
        "goods": document.goods,
    }
