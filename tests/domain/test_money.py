"""Money: strict parsing, canonical text, same-currency arithmetic and fair allocation."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierflow.domain import (
    CURRENCIES,
    CurrencyMismatch,
    InvalidAmount,
    Money,
    UnknownCurrency,
    allocate,
)


@pytest.mark.parametrize(
    ("text", "currency", "minor", "canonical"),
    [
        ("1250000.00", "CNY", 125_000_000, "1250000.00"),
        ("1250000", "CNY", 125_000_000, "1250000.00"),
        ("1250000.5", "CNY", 125_000_050, "1250000.50"),
        ("0", "CNY", 0, "0.00"),
        ("0.00", "CNY", 0, "0.00"),
        ("-0", "CNY", 0, "0.00"),
        ("-0.05", "CNY", -5, "-0.05"),
        ("0.01", "USD", 1, "0.01"),
        ("12", "JPY", 12, "12"),
        ("-7", "KRW", -7, "-7"),
        ("007.10", "EUR", 710, "7.10"),
        ("9" * 30, "JPY", int("9" * 30), "9" * 30),
        ("9" * 28 + ".99", "CNY", int("9" * 30), "9" * 28 + ".99"),
    ],
)
def test_parse_and_format(text: str, currency: str, minor: int, canonical: str) -> None:
    m = Money.parse(text, currency)
    assert m == Money(minor, currency)
    assert m.to_str() == canonical
    assert Money.parse(m.to_str(), currency) == m


def test_too_many_decimals_names_the_currency() -> None:
    with pytest.raises(InvalidAmount, match=r"^CNY has 2 decimal places; got 3$"):
        Money.parse("1.005", "CNY")
    with pytest.raises(InvalidAmount, match="JPY has 0 decimal places; got 1"):
        Money.parse("12.0", "JPY")


@pytest.mark.parametrize(
    "junk",
    [
        "",
        " ",
        "1 000.00",
        "1,000.00",
        " 1.00",
        "1.00 ",
        "+1.00",
        "1e3",
        "1E3",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "1.",
        ".5",
        "--1",
        "-",
        "0x10",
        "١٢",  # Arabic-Indic digits are not ASCII decimal digits
        "1_000",
        "9" * 31,
        "9" * 29 + ".99",
    ],
)
def test_junk_is_refused(junk: str) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(junk, "CNY")


def test_unknown_currency() -> None:
    with pytest.raises(UnknownCurrency):
        Money.parse("1.00", "XXX")
    with pytest.raises(UnknownCurrency):
        Money(100, "cny")


@pytest.mark.parametrize("bad", [1.5, True, "100", None])
def test_minor_must_be_int(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        Money(bad, "CNY")  # type: ignore[arg-type]


def test_currencies_cover_the_usual_codes() -> None:
    for code in ("CNY", "USD", "EUR", "HKD", "GBP", "SGD", "CHF"):
        assert CURRENCIES[code] == 2
    assert CURRENCIES["JPY"] == 0
    assert CURRENCIES["KRW"] == 0


def test_arithmetic_and_comparison_in_one_currency() -> None:
    a, b = Money.parse("100.10", "CNY"), Money.parse("0.15", "CNY")
    assert (a + b).to_str() == "100.25"
    assert (b - a).to_str() == "-99.95"
    assert (-b).minor == -15
    assert b < a and a > b and a >= a and b <= b
    assert a.is_positive and not Money.zero("CNY").is_positive and not (-b).is_positive
    assert str(a) == "CNY 100.10"


def test_mixing_currencies_is_refused() -> None:
    cny, usd = Money(100, "CNY"), Money(100, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = cny + usd
    with pytest.raises(CurrencyMismatch):
        _ = cny - usd
    with pytest.raises(CurrencyMismatch):
        _ = cny < usd
    with pytest.raises(CurrencyMismatch):
        _ = cny >= usd
    assert cny != usd


# --- allocate ----------------------------------------------------------------------------------


def test_allocate_worked_examples() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(5, [0, 3, 0, 2]) == [0, 3, 0, 2]
    assert allocate(7, [5, 5]) == [4, 3]  # tie goes to the lower index
    assert allocate(0, [0, 0]) == [0, 0]
    assert allocate(0, []) == []
    assert allocate(10, [1, 2, 3, 4]) == [1, 2, 3, 4]
    assert allocate(1, [1, 1, 1]) == [1, 0, 0]


@pytest.mark.parametrize(("total", "weights"), [(1, [0, 0]), (1, []), (-1, [1]), (5, [1, -1]), (5, [True])])
def test_allocate_refuses(total: int, weights: list[int]) -> None:
    with pytest.raises(InvalidAmount):
        allocate(total, weights)


@settings(max_examples=200)
@given(
    total=st.integers(min_value=0, max_value=10**15),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30).filter(
        lambda ws: sum(ws) > 0
    ),
)
def test_allocate_properties(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert parts == allocate(total, list(weights))  # deterministic
    weight_sum = sum(weights)
    for part, w in zip(parts, weights, strict=True):
        exact = Fraction(total * w, weight_sum)
        assert abs(part - exact) < 1
        assert part >= 0
        if w == 0:
            assert part == 0
