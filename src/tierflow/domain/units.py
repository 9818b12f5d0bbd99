"""Inclusive unit ranges.

A voucher of face N minor units is numbered ``1..N``; every holding owns one inclusive range
of those numbers. Moves cut ranges from the bottom (``take_lowest``) or around a sub-range
(``carve``), so a range is never rewritten in place: new ranges are built and the old one is
retired by the caller. ``is_partition`` states the ownership invariant: the live ranges of a
voucher are disjoint and cover ``[1, N]`` exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tierflow.domain.errors import InsufficientUnits, InvalidAmount, InvalidRange


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True, order=True)
class UnitRange:
    """Units ``start..end`` inclusive, ``1 <= start <= end``."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (_is_int(self.start) and _is_int(self.end)):
            raise InvalidRange(f"unit range bounds must be integers; got {self.start!r}, {self.end!r}")
        if self.start < 1 or self.end < self.start:
            raise InvalidRange(f"invalid unit range [{self.start}, {self.end}]", start=self.start, end=self.end)

    @property
    def count(self) -> int:
        return self.end - self.start + 1

    def contains(self, unit: int) -> bool:
        return self.start <= unit <= self.end

    def covers(self, other: UnitRange) -> bool:
        """True when ``other`` lies entirely inside this range."""
        return self.start <= other.start and other.end <= self.end

    def overlaps(self, other: UnitRange) -> bool:
        return self.start <= other.end and other.start <= self.end

    def take_lowest(self, n: int) -> tuple[UnitRange, UnitRange | None]:
        """Split off the lowest ``n`` units: ``(taken, rest or None)``."""
        if not _is_int(n) or n <= 0:
            raise InvalidAmount(f"number of units must be a positive integer; got {n!r}")
        if n > self.count:
            raise InsufficientUnits(
                f"asked for {n} units; {self} holds {self.count}", requested=n, available=self.count
            )
        taken = UnitRange(self.start, self.start + n - 1)
        rest = UnitRange(self.start + n, self.end) if n < self.count else None
        return taken, rest

    def carve(self, sub: UnitRange) -> tuple[UnitRange | None, UnitRange, UnitRange | None]:
        """Cut ``sub`` out of this range: ``(before, sub, after)``."""
        if not self.covers(sub):
            raise InvalidRange(f"{sub} does not lie inside {self}", range=str(self), sub=str(sub))
        before = UnitRange(self.start, sub.start - 1) if sub.start > self.start else None
        after = UnitRange(sub.end + 1, self.end) if sub.end < self.end else None
        return before, sub, after

    def __str__(self) -> str:
        return f"[{self.start}, {self.end}]"


def is_partition(ranges: Iterable[UnitRange], n: int) -> bool:
    """True when ``ranges`` are pairwise disjoint and their union is exactly ``[1, n]``."""
    expected = 1
    for r in sorted(ranges):
        if r.start != expected:
            return False
        expected = r.end + 1
    return expected == n + 1
