"""Trade documents as values: contracts, VAT e-invoices and delivery notes.

Design overview
---------------

- Each document is a frozen, slotted dataclass that validates itself on construction and
  raises ``InvalidDocument`` (or its subclass ``InvalidUscc``) naming the offending field in
  both the message and ``fields["field"]``. Amounts are ``int`` minor units; dates are
  ``datetime.date``; nothing here does I/O.
- ``VatInvoice`` models China's fully digital VAT e-invoice (全电发票): a 20-digit number, the
  seller's and buyer's names and unified social credit codes (USCC, 统一社会信用代码), and
  amount + tax == total exactly, in CNY.
- ``uscc_check_char`` / ``uscc_is_valid`` / ``uscc_problem`` implement GB 32100-2015: 18
  characters from ``USCC_ALPHABET``; a check character at position 18 computed mod 31 over
  positions 1-17 with the weights ``3**i mod 31`` (ISO 7064-style); a registration authority
  (position 1) and organisation type (position 2) from ``USCC_TYPES``; positions 3-8 the
  registering authority's administrative division code (GB/T 2260), digits only. Because 31 is
  prime and every weight is non-zero mod 31, the check catches every single-character
  substitution.
- ``content_hash`` is SHA-256 over a canonical, versioned JSON serialisation (sorted keys,
  integers only, ISO dates, no whitespace), so equal fields always give equal hashes across
  processes and releases; ``HASH_VERSION`` changes whenever the serialisation does.

Positions 9-17 (the subject identifier, formerly the GB 11714 organisation code) are checked
only against the alphabet: codes assigned since 2015 do not all carry a valid GB 11714 check
character there, so checking it would reject real codes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from types import MappingProxyType
from typing import ClassVar

from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.domain.money import CURRENCIES


class InvalidDocument(DomainError):
    """A trade document is malformed; ``fields["field"]`` names the offending field."""

    code = "invalid_document"
    kind = ErrorKind.INVALID


class InvalidUscc(InvalidDocument):
    """A unified social credit code fails GB 32100-2015."""

    code = "invalid_uscc"
    kind = ErrorKind.INVALID


DOCUMENT_ERRORS: tuple[type[DomainError], ...] = (InvalidDocument, InvalidUscc)

# --------------------------------------------------------------------------- USCC (GB 32100-2015)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE: Mapping[str, int] = MappingProxyType({c: i for i, c in enumerate(USCC_ALPHABET)})

# Registration authority (position 1) → organisation types allowed at position 2. GB 32100-2015
# itself lists 1 (机构编制), 5 (民政), 9 (工商/市场监管) and Y (其他); the others were assigned
# later by the code administration and are taken from the published assignment tables as
# reproduced by secondary sources (the official tables were not at hand). The table is
# deliberately the union of what those sources list, so that a real code is not refused; the
# mod-31 check character remains the main guard against mistyped codes.
USCC_TYPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "1": frozenset("1239"),  # 机构编制: 机关, 事业单位, 编办管理的群众团体, 其他
        "2": frozenset("19"),  # 外交: 外国常驻新闻机构, 其他
        "3": frozenset("1234569"),  # 司法行政: 律所, 公证处, 基层法律服务所, 司法鉴定, 仲裁委, 商事调解, 其他
        "4": frozenset("19"),  # 文化: 外国在华文化中心, 其他
        "5": frozenset("123459"),  # 民政: 社会团体, 民办非企业, 基金会, 村/居民委员会, 其他
        "6": frozenset("129"),  # 旅游: 外国/港澳台旅游部门常驻代表机构, 其他
        "7": frozenset("129"),  # 宗教: 宗教活动场所, 宗教院校, 其他
        "8": frozenset("129"),  # 工会: 基层工会, 非法人工会组织, 其他
        "9": frozenset("123"),  # 工商/市场监管: 企业, 个体工商户, 农民专业合作社
        "A": frozenset("19"),  # 中央军委改革和编制办公室: 军队单位, 其他
        "G": frozenset("19"),  # 公安 (境外非政府组织代表机构), 其他
        "J": frozenset("19"),  # 住房和城乡建设 (业主大会), 其他
        "N": frozenset("1239"),  # 农业农村: 组级/村级/乡镇级集体经济组织, 其他
        "Q": frozenset("1239"),  # 侨联: 区县级/乡镇级/村级侨联组织, 其他
        "Y": frozenset("1"),  # 其他
    }
)


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a USCC.

    ``check = 31 - (Σ value(c_i) × w_i mod 31)``, with 31 written as ``'0'``. Raises
    ``InvalidUscc`` when ``first17`` is not 17 characters of ``USCC_ALPHABET``.
    """
    if not isinstance(first17, str) or len(first17) != 17:
        raise InvalidUscc(
            f"a USCC check character needs 17 leading characters; got {first17!r}",
            field="uscc",
            value=str(first17),
        )
    total = 0
    for position, (char, weight) in enumerate(zip(first17, USCC_WEIGHTS, strict=True), start=1):
        value = _USCC_VALUE.get(char)
        if value is None:
            raise InvalidUscc(
                f"USCC character {char!r} at position {position} is not in the GB 32100 alphabet",
                field="uscc",
                value=first17,
                position=position,
            )
        total += value * weight
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: object) -> str | None:
    """Why ``code`` is not a valid USCC, in words; ``None`` when it is valid.

    Codes are compared as printed: upper case, no spaces (callers normalise input first).
    """
    if not isinstance(code, str):
        return f"a USCC must be text; got {type(code).__name__}"
    if len(code) != 18:
        return f"a USCC has 18 characters; {code!r} has {len(code)}"
    for position, char in enumerate(code, start=1):
        if char not in _USCC_VALUE:
            return f"character {char!r} at position {position} of {code} is not in the GB 32100 alphabet"
    types = USCC_TYPES.get(code[0])
    if types is None:
        return f"{code[0]!r} (position 1 of {code}) is not a registration authority code"
    if code[1] not in types:
        return f"{code[1]!r} (position 2 of {code}) is not an organisation type of authority {code[0]!r}"
    if not code[2:8].isdigit():
        return f"positions 3-8 of {code} must be an administrative division code of six digits"
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        return f"check character of {code} is {code[17]!r}; GB 32100 gives {expected!r}"
    return None


def uscc_is_valid(code: object) -> bool:
    """Whether ``code`` is a valid USCC under GB 32100-2015 (never raises)."""
    return uscc_problem(code) is None


# --------------------------------------------------------------------------- field checks


def _text(doc: str, name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidDocument(f"{doc}.{name} must be non-empty text; got {value!r}", document=doc, field=name)


def _date(doc: str, name: str, value: object) -> None:
    # datetime is a subclass of date; a timestamp would make the canonical form ambiguous.
    if not isinstance(value, date) or type(value) is not date:
        raise InvalidDocument(f"{doc}.{name} must be a date; got {value!r}", document=doc, field=name)


def _minor(doc: str, name: str, value: object, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        need = "a positive" if positive else "a non-negative"
        raise InvalidDocument(
            f"{doc}.{name} must be {need} integer of minor units; got {value!r}", document=doc, field=name
        )
    return value


def _currency(doc: str, name: str, value: object) -> None:
    if not isinstance(value, str) or value not in CURRENCIES:
        raise InvalidDocument(f"{doc}.{name}: unknown currency {value!r}", document=doc, field=name)


def _uscc(doc: str, name: str, value: object) -> None:
    problem = uscc_problem(value)
    if problem is not None:
        raise InvalidUscc(f"{doc}.{name}: {problem}", document=doc, field=name, value=str(value))


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class Contract:
    """A sales contract: ``seller`` supplies ``buyer``; both are platform party ids."""

    DOCUMENT_TYPE: ClassVar[str] = "contract"

    number: str
    buyer: str
    seller: str
    signed_on: date
    effective_from: date
    effective_until: date
    amount_minor: int
    currency: str
    payment_terms_days: int

    def __post_init__(self) -> None:
        doc = self.DOCUMENT_TYPE
        for name in ("number", "buyer", "seller"):
            _text(doc, name, getattr(self, name))
        if self.buyer == self.seller:
            raise InvalidDocument(f"{doc}.seller must differ from the buyer", document=doc, field="seller")
        for name in ("signed_on", "effective_from", "effective_until"):
            _date(doc, name, getattr(self, name))
        if self.effective_until < self.effective_from:
            raise InvalidDocument(
                f"{doc}.effective_until {self.effective_until.isoformat()} is before effective_from "
                f"{self.effective_from.isoformat()}",
                document=doc,
                field="effective_until",
            )
        if self.signed_on > self.effective_until:
            raise InvalidDocument(
                f"{doc}.signed_on {self.signed_on.isoformat()} is after the contract ended "
                f"({self.effective_until.isoformat()})",
                document=doc,
                field="signed_on",
            )
        _minor(doc, "amount_minor", self.amount_minor, positive=True)
        _currency(doc, "currency", self.currency)
        _minor(doc, "payment_terms_days", self.payment_terms_days)

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day <= self.effective_until


@dataclass(frozen=True, slots=True)
class VatInvoice:
    """A fully digital VAT e-invoice (全电发票); the seller issues it to the buyer.

    ``total_minor`` (价税合计) must equal ``amount_minor`` (金额, without tax) plus
    ``tax_minor`` (税额) exactly; tax never exceeds the amount (the highest VAT rate is 13%).
    """

    DOCUMENT_TYPE: ClassVar[str] = "vat_invoice"
    NUMBER_LENGTH: ClassVar[int] = 20

    number: str
    issued_on: date
    seller_name: str
    seller_uscc: str
    buyer_name: str
    buyer_uscc: str
    amount_minor: int
    tax_minor: int
    total_minor: int
    currency: str = "CNY"

    def __post_init__(self) -> None:
        doc = self.DOCUMENT_TYPE
        if not invoice_number_is_valid(self.number):
            raise InvalidDocument(
                f"{doc}.number must be {self.NUMBER_LENGTH} ASCII digits; got {self.number!r}",
                document=doc,
                field="number",
            )
        _date(doc, "issued_on", self.issued_on)
        _text(doc, "seller_name", self.seller_name)
        _uscc(doc, "seller_uscc", self.seller_uscc)
        _text(doc, "buyer_name", self.buyer_name)
        _uscc(doc, "buyer_uscc", self.buyer_uscc)
        if self.seller_uscc == self.buyer_uscc:
            raise InvalidDocument(f"{doc}.buyer_uscc must differ from the seller's", document=doc, field="buyer_uscc")
        amount = _minor(doc, "amount_minor", self.amount_minor)
        tax = _minor(doc, "tax_minor", self.tax_minor)
        total = _minor(doc, "total_minor", self.total_minor, positive=True)
        if tax > amount:
            raise InvalidDocument(
                f"{doc}.tax_minor {tax} exceeds amount_minor {amount}", document=doc, field="tax_minor"
            )
        if amount + tax != total:
            raise InvalidDocument(
                f"{doc}.total_minor {total} is not amount_minor {amount} + tax_minor {tax}",
                document=doc,
                field="total_minor",
            )
        if self.currency != "CNY":
            raise InvalidDocument(f"{doc}.currency must be CNY; got {self.currency!r}", document=doc, field="currency")


def invoice_number_is_valid(number: object) -> bool:
    """Whether ``number`` has the shape of a fully digital e-invoice number (20 ASCII digits)."""
    # str.isdigit accepts non-ASCII digits (e.g. '٣'); an invoice number never contains them.
    return isinstance(number, str) and len(number) == VatInvoice.NUMBER_LENGTH and number.isascii() and number.isdigit()


@dataclass(frozen=True, slots=True)
class DeliveryNote:
    """Goods delivered (or accepted) under ``contract_number``; seller and buyer are party ids."""

    DOCUMENT_TYPE: ClassVar[str] = "delivery_note"

    number: str
    delivered_on: date
    seller: str
    buyer: str
    contract_number: str
    goods: str

    def __post_init__(self) -> None:
        doc = self.DOCUMENT_TYPE
        for name in ("number", "seller", "buyer", "contract_number", "goods"):
            _text(doc, name, getattr(self, name))
        if self.buyer == self.seller:
            raise InvalidDocument(f"{doc}.seller must differ from the buyer", document=doc, field="seller")
        _date(doc, "delivered_on", self.delivered_on)


Document = Contract | VatInvoice | DeliveryNote

# --------------------------------------------------------------------------- content hash

HASH_VERSION = 1


def canonical_bytes(document: Document) -> bytes:
    """The canonical serialisation hashed by ``content_hash``.

    ``{"fields": {...}, "type": ..., "v": HASH_VERSION}`` as compact JSON with sorted keys, in
    UTF-8 (names stay as written, not ``\\u`` escaped). Only ``str``, ``int`` and ISO dates occur.
    """
    values: dict[str, str | int] = {}
    for f in fields(document):
        value = getattr(document, f.name)
        if isinstance(value, date):
            values[f.name] = value.isoformat()
        elif isinstance(value, str | int) and not isinstance(value, bool):
            values[f.name] = value
        else:  # pragma: no cover - construction validation makes this unreachable
            raise InvalidDocument(f"cannot serialise {f.name}={value!r}", field=f.name)
    payload = {"v": HASH_VERSION, "type": document.DOCUMENT_TYPE, "fields": values}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(document: Document) -> str:
    """SHA-256 (lower-case hex) of ``canonical_bytes(document)``."""
    return hashlib.sha256(canonical_bytes(document)).hexdigest()
