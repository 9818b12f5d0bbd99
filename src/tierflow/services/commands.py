"""Signed commands: their envelope, the shape of each kind's body, and the checks that need no database.

A command is what a party signs: ``{"kind", "actor", "nonce", "issued_at", "body"}``. The service verifies the
signature over the RFC 8785 bytes (``tierflow.ledger.envelope``), executes the command, and journals it
verbatim, so anyone can re-check the signature later. Bodies carry money as decimal strings with a currency,
dates as ISO 8601 strings, and unit numbers as integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tierflow.domain.money import Money
from tierflow.services.errors import InvalidCommand, UnknownKind

MAX_REF = 200
MAX_REFS = 50

# kind -> (required body fields, optional body fields)
KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "party.register": (frozenset({"name", "role", "public_key"}), frozenset({"policy"})),
    "voucher.issue": (
        frozenset({"first_holder", "amount", "currency", "maturity", "contract_ref", "invoice_refs"}),
        frozenset(),
    ),
    "transfer.offer": (
        frozenset({"holding_id", "recipient", "amount", "currency", "trade_ref", "invoice_refs"}),
        frozenset(),
    ),
    "transfer.accept": (frozenset({"offer_id"}), frozenset()),
    "transfer.reject": (frozenset({"offer_id"}), frozenset({"reason"})),
    "transfer.expire": (frozenset({"offer_id"}), frozenset()),
    "financing.request": (
        frozenset({"holding_id", "financier", "amount", "currency", "annual_rate"}),
        frozenset({"basis", "fee", "recourse", "contract_ref", "invoice_refs", "sustainability_link"}),
    ),
    "financing.review": (frozenset({"financing_id", "user", "recommendation"}), frozenset({"note"})),
    "financing.approve": (frozenset({"financing_id", "user"}), frozenset({"note"})),
    "financing.sign": (frozenset({"financing_id", "contract_number", "contract_sha256"}), frozenset({"user"})),
    "financing.register": (frozenset({"financing_id", "registry_number"}), frozenset({"user"})),
    "financing.fund": (
        frozenset({"financing_id", "payment_message_id", "payment_sha256", "bank_reference"}),
        frozenset({"user"}),
    ),
    "financing.decline": (frozenset({"financing_id"}), frozenset({"reason", "user"})),
    "financing.cancel": (frozenset({"financing_id"}), frozenset()),
    "financing.repay": (
        frozenset({"financing_id", "entry_ref", "amount", "currency", "booking_date"}),
        frozenset({"payer"}),
    ),
    "financing.overdue": (frozenset({"financing_id"}), frozenset()),
    "financing.recourse": (frozenset({"financing_id"}), frozenset({"user", "note"})),
    "holding.freeze": (frozenset({"holding_id", "start_unit", "end_unit", "reason"}), frozenset()),
    "freeze.release": (frozenset({"freeze_id"}), frozenset()),
    "voucher.settle": (frozenset({"voucher_id", "amount", "currency"}), frozenset()),
    "document.register": (frozenset({"type", "fields"}), frozenset({"source", "seller_party", "buyer_party"})),
    "green.label": (
        frozenset(
            {"subject_kind", "subject_id", "taxonomy", "version", "code", "criterion_id", "evidence", "valid_from"}
        ),
        frozenset({"valid_to"}),
    ),
    "green.label.revoke": (frozenset({"label_id", "reason"}), frozenset()),
    "green.kpi.certify": (
        frozenset({"financing_id", "kpi_id", "year", "value", "value_with_baseline_factors", "factor_ids", "evidence"}),
        frozenset(),
    ),
}


@dataclass(frozen=True, slots=True)
class SignedCommand:
    command: Mapping[str, Any]
    signature: str

    @property
    def kind(self) -> str:
        return str(self.command.get("kind"))

    @property
    def actor(self) -> str:
        return str(self.command.get("actor"))

    @property
    def body(self) -> Mapping[str, Any]:
        body = self.command.get("body")
        return body if isinstance(body, Mapping) else {}


def check_envelope(command: Mapping[str, Any]) -> datetime:
    """Checks the envelope and the body's field names; returns ``issued_at``."""
    if not isinstance(command, Mapping):
        raise InvalidCommand("The command must be a JSON object.")
    expected = {"kind", "actor", "nonce", "issued_at", "body"}
    missing = expected - set(command)
    extra = set(command) - expected
    if missing or extra:
        raise InvalidCommand(
            "The command must have exactly the fields kind, actor, nonce, issued_at and body.",
            missing=sorted(missing),
            unexpected=sorted(extra),
        )
    kind = command["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise UnknownKind(f"Unknown command kind {kind!r}.", known=sorted(KINDS))
    for name in ("actor", "nonce", "issued_at"):
        value = command[name]
        if not isinstance(value, str) or not value or len(value) > 128:
            raise InvalidCommand(f"'{name}' must be a non-empty string of at most 128 characters.", field=name)
    body = command["body"]
    if not isinstance(body, Mapping):
        raise InvalidCommand("'body' must be a JSON object.", field="body")
    required, optional = KINDS[kind]
    missing = set(required - set(body))
    extra = set(body) - required - optional
    if missing or extra:
        raise InvalidCommand(
            f"The body of a {kind} command has missing or unexpected fields.",
            missing=sorted(missing),
            unexpected=sorted(extra),
        )
    return parse_timestamp(command["issued_at"], "issued_at")


def parse_timestamp(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidCommand(f"'{field}' must be an RFC 3339 timestamp.", field=field)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidCommand(f"'{field}' is not an RFC 3339 timestamp: {value!r}.", field=field) from None
    if parsed.tzinfo is None:
        raise InvalidCommand(f"'{field}' must carry a UTC offset (e.g. 'Z').", field=field)
    return parsed.astimezone(UTC)


def text(body: Mapping[str, Any], field: str, *, max_len: int = MAX_REF) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise InvalidCommand(f"'{field}' must be a non-empty string of at most {max_len} characters.", field=field)
    return value


def optional_text(body: Mapping[str, Any], field: str, *, max_len: int = 1000) -> str:
    if field not in body or body[field] is None:
        return ""
    return text(body, field, max_len=max_len)


def refs(body: Mapping[str, Any], field: str) -> tuple[str, ...]:
    value = body.get(field)
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_REFS
        or not all(isinstance(v, str) and v.strip() and len(v) <= MAX_REF for v in value)
    ):
        raise InvalidCommand(
            f"'{field}' must be a non-empty list of at most {MAX_REFS} references (strings).", field=field
        )
    if len(set(value)) != len(value):
        raise InvalidCommand(f"'{field}' lists a reference twice.", field=field)
    return tuple(value)


def money(body: Mapping[str, Any], field: str = "amount") -> Money:
    amount, currency = body.get(field), body.get("currency")
    if not isinstance(amount, str):
        raise InvalidCommand(f"'{field}' must be a decimal string such as \"1250.00\".", field=field)
    if not isinstance(currency, str):
        raise InvalidCommand("'currency' must be an ISO 4217 code such as \"CNY\".", field="currency")
    return Money.parse(amount, currency)


def business_date(body: Mapping[str, Any], field: str) -> date:
    value = body.get(field)
    if not isinstance(value, str):
        raise InvalidCommand(f"'{field}' must be a date (YYYY-MM-DD).", field=field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidCommand(f"'{field}' is not a date (YYYY-MM-DD): {value!r}.", field=field) from None


def optional_bool(body: Mapping[str, Any], field: str, *, default: bool) -> bool:
    value = body.get(field, default)
    if not isinstance(value, bool):
        raise InvalidCommand(f"'{field}' must be true or false.", field=field)
    return value


def sha256_hex(body: Mapping[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or len(value) != 64 or any(ch not in "0123456789abcdef" for ch in value):
        raise InvalidCommand(f"'{field}' must be a SHA-256 digest in lower-case hex (64 characters).", field=field)
    return value


def integer(body: Mapping[str, Any], field: str) -> int:
    value = body.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidCommand(f"'{field}' must be an integer.", field=field)
    return value


def rate(body: Mapping[str, Any], field: str) -> Decimal:
    value = body.get(field)
    if not isinstance(value, str) or len(value) > 20:
        raise InvalidCommand(f"'{field}' must be a decimal string such as \"0.0365\".", field=field)
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise InvalidCommand(f"'{field}' is not a decimal number: {value!r}.", field=field) from None
    if not parsed.is_finite():
        raise InvalidCommand(f"'{field}' must be a finite number.", field=field)
    return parsed
