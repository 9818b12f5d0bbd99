"""Unit ranges: a voucher of CNY 1,000.00 is units 1..100000."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierflow.domain import InsufficientUnits, InvalidAmount, InvalidRange, UnitRange, is_partition


def test_basic_queries() -> None:
    r = UnitRange(1, 100)
    assert r.count == 100
    assert r.contains(1) and r.contains(100) and not r.contains(0) and not r.contains(101)
    assert r.overlaps(UnitRange(100, 200)) and not r.overlaps(UnitRange(101, 200))
    assert str(r) == "[1, 100]"
    assert UnitRange(5, 5).count == 1
    assert sorted([UnitRange(50, 60), UnitRange(1, 10)]) == [UnitRange(1, 10), UnitRange(50, 60)]


@pytest.mark.parametrize(("start", "end"), [(0, 5), (-1, 3), (5, 4), (1.0, 2), (True, 2)])
def test_invalid_ranges(start: int, end: int) -> None:
    with pytest.raises(InvalidRange):
        UnitRange(start, end)


def test_take_lowest() -> None:
    r = UnitRange(11, 20)
    assert r.take_lowest(3) == (UnitRange(11, 13), UnitRange(14, 20))
    assert r.take_lowest(10) == (UnitRange(11, 20), None)
    with pytest.raises(InsufficientUnits):
        r.take_lowest(11)
    with pytest.raises(InvalidAmount):
        r.take_lowest(0)
    with pytest.raises(InvalidAmount):
        r.take_lowest(-1)


def test_carve() -> None:
    r = UnitRange(1, 100)
    assert r.carve(UnitRange(10, 20)) == (UnitRange(1, 9), UnitRange(10, 20), UnitRange(21, 100))
    assert r.carve(UnitRange(1, 20)) == (None, UnitRange(1, 20), UnitRange(21, 100))
    assert r.carve(UnitRange(90, 100)) == (UnitRange(1, 89), UnitRange(90, 100), None)
    assert r.carve(r) == (None, r, None)
    with pytest.raises(InvalidRange):
        r.carve(UnitRange(90, 101))


def test_is_partition() -> None:
    assert is_partition([UnitRange(4, 10), UnitRange(1, 3)], 10)
    assert not is_partition([UnitRange(1, 3), UnitRange(3, 10)], 10)  # overlap
    assert not is_partition([UnitRange(1, 3), UnitRange(5, 10)], 10)  # gap
    assert not is_partition([UnitRange(1, 3)], 10)  # short
    assert not is_partition([UnitRange(1, 11)], 10)  # long
    assert not is_partition([UnitRange(2, 10)], 10)


@settings(max_examples=100)
@given(st.integers(1, 10**6), st.data())
def test_random_cuts_partition(n: int, data: st.DataObject) -> None:
    ranges = [UnitRange(1, n)]
    for _ in range(data.draw(st.integers(0, 10))):
        r = ranges.pop(data.draw(st.integers(0, len(ranges) - 1)))
        taken, rest = r.take_lowest(data.draw(st.integers(1, r.count)))
        ranges += [taken] + ([rest] if rest else [])
    assert is_partition(ranges, n)
    assert sum(r.count for r in ranges) == n
