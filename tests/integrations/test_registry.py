"""The simulated movable-asset financing registry: filings, priority conflicts, lapse, persistence, threads."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tierflow.integrations.registry import NUMBER_LENGTH, SimulatedRegistry
from tierflow.services.external import ExternalServiceError, FinancingRegistry, RegistrationRequest

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def request(pledgee: str = "bank-a", collateral: str = "voucher-1:0-100000", **changes: Any) -> RegistrationRequest:
    base = RegistrationRequest(
        pledgor_name="苏州示例供应商有限公司",
        pledgor_id="supplier-1",
        pledgee_name=f"示例银行 {pledgee}",
        pledgee_id=pledgee,
        collateral_id=collateral,
        description="应收账款转让: voucher-1 units 0-100000",
        amount_minor=100_000,
        currency="CNY",
        period_end=date(2026, 3, 10),
    )
    return replace(base, **changes)


def test_implements_the_port() -> None:
    registry: FinancingRegistry = SimulatedRegistry(clock=Clock())
    assert registry.search("nothing") == []


def test_register_then_search() -> None:
    registry = SimulatedRegistry(clock=Clock())
    registration = registry.register(request())
    assert registration.registered_at == NOW
    assert registration.request == request()
    assert len(registration.number) == NUMBER_LENGTH and registration.number.isdigit()
    assert registry.search("voucher-1:0-100000") == [registration]
    assert registry.search("voucher-2:0-1") == []
    assert registry.search_by_pledgor("supplier-1") == [registration]


def test_numbers_are_unique() -> None:
    registry = SimulatedRegistry(clock=Clock())
    numbers = {registry.register(request(collateral=f"voucher-{i}")).number for i in range(50)}
    assert len(numbers) == 50


def test_same_pledgee_re_registering_gets_the_existing_registration() -> None:
    clock = Clock()
    registry = SimulatedRegistry(clock=clock)
    first = registry.register(request())
    clock.now = NOW + timedelta(hours=1)
    assert registry.register(request()) == first
    assert registry.search("voucher-1:0-100000") == [first]


def test_another_pledgee_is_refused_naming_the_earlier_registration() -> None:
    registry = SimulatedRegistry(clock=Clock())
    first = registry.register(request("bank-a"))
    with pytest.raises(ExternalServiceError) as raised:
        registry.register(request("bank-b"))
    assert raised.value.code == "registry_conflict"
    assert first.number in str(raised.value)
    assert registry.search("voucher-1:0-100000") == [first]


def test_other_collateral_of_the_same_pledgor_is_not_a_conflict() -> None:
    registry = SimulatedRegistry(clock=Clock())
    registry.register(request("bank-a", collateral="voucher-1:0-50000"))
    registry.register(request("bank-b", collateral="voucher-1:50000-100000"))
    assert len(registry.search_by_pledgor("supplier-1")) == 2


def test_an_expired_registration_is_not_found_and_does_not_conflict() -> None:
    clock = Clock()
    registry = SimulatedRegistry(clock=clock)
    first = registry.register(request("bank-a", period_end=date(2025, 4, 30)))
    clock.now = datetime(2025, 4, 30, 15, 59, tzinfo=UTC)  # 23:59 on 30 April in Beijing: still live
    assert registry.search("voucher-1:0-100000") == [first]
    clock.now = datetime(2025, 4, 30, 16, 0, tzinfo=UTC)  # 1 May in Beijing
    assert registry.search("voucher-1:0-100000") == []
    second = registry.register(request("bank-b", period_end=date(2025, 12, 31)))
    assert second.number != first.number
    assert registry.search("voucher-1:0-100000") == [second]


def test_a_cancelled_registration_frees_the_collateral() -> None:
    registry = SimulatedRegistry(clock=Clock())
    first = registry.register(request("bank-a"))
    with pytest.raises(ExternalServiceError) as raised:
        registry.cancel(first.number, pledgee_id="bank-b")
    assert raised.value.code == "registry_forbidden"
    with pytest.raises(ExternalServiceError) as raised:
        registry.cancel("0" * NUMBER_LENGTH, pledgee_id="bank-a")
    assert raised.value.code == "registry_not_found"
    registry.cancel(first.number, pledgee_id="bank-a")
    registry.cancel(first.number, pledgee_id="bank-a")
    assert registry.search("voucher-1:0-100000") == []
    assert registry.register(request("bank-b")).request.pledgee_id == "bank-b"


@pytest.mark.parametrize(
    "changes",
    [
        {"pledgor_name": ""},
        {"pledgee_name": "   "},
        {"pledgor_id": ""},
        {"pledgee_id": ""},
        {"collateral_id": ""},
        {"amount_minor": 0},
        {"amount_minor": -5},
        {"amount_minor": True},
        {"amount_minor": 1.5},
        {"currency": "XYZ"},
        {"currency": "cny"},
        {"period_end": date(2025, 3, 10)},  # today is not in the future
        {"period_end": date(2024, 1, 1)},
        {"period_end": datetime(2026, 1, 1, tzinfo=UTC)},
        {"period_end": date(2055, 3, 11)},  # longer than 30 years
    ],
)
def test_bad_filings_are_refused(changes: dict[str, Any]) -> None:
    registry = SimulatedRegistry(clock=Clock())
    with pytest.raises(ExternalServiceError) as raised:
        registry.register(request(**changes))
    assert raised.value.code == "registry_invalid"
    assert registry.search("voucher-1:0-100000") == []


def test_thirty_years_is_the_longest_period() -> None:
    registry = SimulatedRegistry(clock=Clock())
    assert registry.register(request(period_end=date(2055, 3, 10))).request.period_end == date(2055, 3, 10)


def test_a_naive_clock_is_a_programming_error() -> None:
    registry = SimulatedRegistry(clock=lambda: datetime(2025, 3, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        registry.register(request())


def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "registry" / "registrations.jsonl"
    clock = Clock()
    first = SimulatedRegistry(path, clock=clock)
    kept = first.register(request("bank-a"))
    cancelled = first.register(request("bank-a", collateral="voucher-2"))
    first.cancel(cancelled.number, pledgee_id="bank-a")

    second = SimulatedRegistry(path, clock=clock)
    assert second.search("voucher-1:0-100000") == [kept]
    assert second.search("voucher-2") == []
    with pytest.raises(ExternalServiceError) as raised:
        second.register(request("bank-b"))
    assert kept.number in str(raised.value)
    third = second.register(request("bank-c", collateral="voucher-3"))
    assert third.number not in {kept.number, cancelled.number}
    assert SimulatedRegistry(path, clock=clock).search("voucher-3") == [third]


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "registrations.jsonl"
    kept = SimulatedRegistry(path, clock=Clock()).register(request())
    with path.open("ab") as f:
        f.write(b'{"op":"register","num')
    reopened = SimulatedRegistry(path, clock=Clock())
    assert reopened.search("voucher-1:0-100000") == [kept]
    later = reopened.register(request(collateral="voucher-2"))
    assert SimulatedRegistry(path, clock=Clock()).search("voucher-2") == [later]


def test_a_corrupt_record_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "registrations.jsonl"
    path.write_text('{"op":"register"}\n', encoding="utf-8")
    with pytest.raises(ExternalServiceError) as raised:
        SimulatedRegistry(path, clock=Clock())
    assert raised.value.code == "registry_unavailable"


def test_concurrent_filings_by_different_pledgees_register_once() -> None:
    registry = SimulatedRegistry(clock=Clock())
    barrier = threading.Barrier(8)
    numbers: list[str] = []
    codes: list[str] = []

    def file(pledgee: str) -> None:
        barrier.wait()
        try:
            numbers.append(registry.register(request(pledgee)).number)
        except ExternalServiceError as exc:
            codes.append(exc.code)

    threads = [threading.Thread(target=file, args=(f"bank-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(numbers) == 1
    assert codes == ["registry_conflict"] * 7
    assert [r.number for r in registry.search("voucher-1:0-100000")] == numbers


def test_concurrent_filings_persist_once(tmp_path: Path) -> None:
    path = tmp_path / "registrations.jsonl"
    registry = SimulatedRegistry(path, clock=Clock())
    barrier = threading.Barrier(8)

    def file(pledgee: str) -> None:
        barrier.wait()
        with contextlib.suppress(ExternalServiceError):
            registry.register(request(pledgee))

    threads = [threading.Thread(target=file, args=(f"bank-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1
    assert len(SimulatedRegistry(path, clock=Clock()).search("voucher-1:0-100000")) == 1
