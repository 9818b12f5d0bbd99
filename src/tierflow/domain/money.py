"""Money as integer minor units.

An amount is an ``int`` count of the currency's minor unit (fen for CNY, cent for USD, yen
for JPY) plus an ISO 4217 code; floats never appear. Text is parsed strictly (plain decimal,
no exponent, no separators, no more fractional digits than the currency has) so that a value
read from a request is exactly the value meant. ``allocate`` splits an integer total by integer
weights with the largest-remainder method, deterministically, so that parts always sum to the
total.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from tierflow.domain.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency

CURRENCIES: Mapping[str, int] = MappingProxyType(
    {
        "CNY": 2,
        "USD": 2,
        "EUR": 2,
        "HKD": 2,
        "GBP": 2,
        "SGD": 2,
        "CHF": 2,
        "JPY": 0,
        "KRW": 0,
    }
)

MAX_DIGITS = 30

_AMOUNT = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")


def exponent(currency: str) -> int:
    """Minor-unit exponent of ``currency``; raises UnknownCurrency."""
    try:
        return CURRENCIES[currency]
    except (KeyError, TypeError):
        raise UnknownCurrency(f"unknown currency {currency!r}", currency=currency) from None


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of ``minor`` minor units of ``currency``."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        exponent(self.currency)
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidAmount(f"amount must be an integer of minor units; got {self.minor!r}")

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a plain decimal string such as ``"1250000.00"`` or ``"-0.05"``."""
        exp = exponent(currency)
        if not isinstance(text, str):
            raise InvalidAmount(f"amount must be a decimal string; got {text!r}")
        match = _AMOUNT.fullmatch(text)
        if match is None:
            raise InvalidAmount(f"not a decimal amount: {text!r}", text=text)
        whole, frac = match.group(1), match.group(2) or ""
        if len(whole) + len(frac) > MAX_DIGITS:
            raise InvalidAmount(f"amount has more than {MAX_DIGITS} digits", text=text)
        if len(frac) > exp:
            raise InvalidAmount(
                f"{currency} has {exp} decimal places; got {len(frac)}",
                text=text,
                currency=currency,
            )
        minor = int(whole + frac.ljust(exp, "0"))
        if text.startswith("-"):
            minor = -minor
        return cls(minor, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def to_str(self) -> str:
        """Canonical text: ``"1250000.00"``, ``"-0.05"``, ``"12"`` (JPY)."""
        exp = exponent(self.currency)
        sign = "-" if self.minor < 0 else ""
        digits = str(abs(self.minor))
        if exp == 0:
            return sign + digits
        digits = digits.rjust(exp + 1, "0")
        return f"{sign}{digits[:-exp]}.{digits[-exp:]}"

    def __str__(self) -> str:
        return f"{self.currency} {self.to_str()}"

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency} with {other.currency}",
                left=self.currency,
                right=other.currency,
            )

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor >= other.minor


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder).

    Each part is the floor of its exact share; the units left over go one each to the parts
    with the largest remainders, ties to the lower index. Parts sum exactly to ``total``, each
    is within 1 of its exact share, and a zero weight gets zero.
    """
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise InvalidAmount(f"total must be a non-negative integer; got {total!r}")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int) or w < 0:
            raise InvalidAmount(f"weights must be non-negative integers; got {w!r}")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total > 0:
            raise InvalidAmount("cannot allocate a positive total over zero weights", total=total)
        return [0 for _ in weights]
    parts: list[int] = []
    remainders: list[int] = []
    for w in weights:
        q, r = divmod(total * w, weight_sum)
        parts.append(q)
        remainders.append(r)
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        parts[i] += 1
    return parts
