"""Shared suppliers in memory: the bank learns the shared USCCs and the core enterprise's exposures to them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tierflow.domain.documents import uscc_check_char
from tierflow.privacy import shared_suppliers as ss


def uscc(n: int) -> str:
    first = f"91320500{n:09d}"
    return first + uscc_check_char(first)


def test_bank_learns_shared_suppliers_and_overlap_core_learns_nothing() -> None:
    bank = {uscc(i): Decimal(100 * i) for i in range(1, 9)}
    core = {uscc(i): Decimal(f"{i}.50") for i in range(5, 15)}
    result, network = ss.run_in_memory(bank, core, max_bank=16, max_core=16)
    shared = sorted(set(bank) & set(core))
    assert [s.uscc for s in result.suppliers] == shared
    assert all(s.own == bank[s.uscc] and s.theirs == core[s.uscc] for s in result.suppliers)
    assert result.own_total == sum(bank[c] for c in shared)
    assert result.their_total == sum(core[c] for c in shared)
    assert result.overlap == sum(min(bank[c], core[c]) for c in shared)
    assert result.to_json()["count"] == len(shared)
    wire = b"".join(t.data for t in network.tap)
    for code in [*bank, *core]:
        assert code.encode() not in wire
    for value in core.values():
        assert ss.encode_amount(value) not in wire


def test_exposure_files_are_validated() -> None:
    good = f"uscc,exposure\n{uscc(1)},1200.50\n{uscc(1)},0.50\n"
    assert ss.parse_exposures(good) == {uscc(1): Decimal("1201.00")}
    with pytest.raises(ValueError, match="invalid USCC"):
        ss.parse_exposures("91320500000000001X,1\n")
    with pytest.raises(ValueError, match="non-negative"):
        ss.parse_exposures(f"{uscc(2)},-5\n")
    with pytest.raises(ValueError, match="does not fit"):
        ss.encode_amount(Decimal("1" * 41))
