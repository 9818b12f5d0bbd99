"""The financing workflow end to end, with the real formats behind the ports: a contract PDF signed with PAdES by
both parties, a registration with the (simulated) financing registry, a pain.001 that validates against the
official XSD, and repayments reconciled from camt.054 notifications."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Chain, make_settings
from tests.trade_world import BANK_ACCOUNT, TradeWorld, supplier_account
from tierflow.config import Settings
from tierflow.domain.errors import DomainError
from tierflow.integrations.iso20022 import parse_pain001, validate_pain001
from tierflow.services.external import RegistrationRequest
from tierflow.services.financing_case import Acting
from tierflow.store import schema as t


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, trade_checks="enforce")


@pytest.fixture
def world(chain: Chain) -> TradeWorld:
    return TradeWorld(chain)


def stage(world: TradeWorld, financing_id: str) -> str:
    with world.chain.p.engine.connect() as conn:
        return str(
            conn.execute(
                select(t.financing_cases.c.stage).where(t.financing_cases.c.financing_id == financing_id)
            ).scalar_one()
        )


def requested(world: TradeWorld, *, recourse: bool = True) -> tuple[str, dict[str, Any]]:
    done = world.clean_chain()
    asked = world.finance(world.chain.tier3, done["to_tier3"]["holding_id"], 150_000_00, recourse=recourse)
    assert asked["stage"] == "verified"
    return str(asked["financing_id"]), done


def approved(world: TradeWorld, financing_id: str) -> None:
    c = world.chain
    c.do(c.bank, "financing.review", financing_id=financing_id, user="li.wei", recommendation="approve",
         note="trade documents in order")
    c.do(c.bank, "financing.approve", financing_id=financing_id, user="zhang.min")


def disbursed(world: TradeWorld, financing_id: str) -> None:
    c, cases = world.chain, world.chain.p.cases
    approved(world, financing_id)
    cases.sign(world.acting(c.tier3), financing_id)
    cases.sign(world.acting(c.bank, "zhang.min"), financing_id)
    cases.register(world.acting(c.bank, "li.wei"), financing_id)
    cases.disburse(world.acting(c.bank, "li.wei"), financing_id, debtor=BANK_ACCOUNT,
                   creditor=supplier_account("Tier-3 Ltd", 3))


def test_maker_and_checker_must_be_two_people(world: TradeWorld) -> None:
    c = world.chain
    financing_id, _ = requested(world)
    c.do(c.bank, "financing.review", financing_id=financing_id, user="li.wei", recommendation="approve")
    with pytest.raises(DomainError) as caught:
        c.do(c.bank, "financing.approve", financing_id=financing_id, user=" LI.WEI ")
    assert caught.value.code == "maker_checker"
    assert stage(world, financing_id) == "reviewed"
    c.do(c.bank, "financing.approve", financing_id=financing_id, user="zhang.min")
    assert stage(world, financing_id) == "approved"


def test_a_checker_cannot_approve_what_the_maker_advised_to_decline(world: TradeWorld) -> None:
    c = world.chain
    financing_id, _ = requested(world)
    c.do(c.bank, "financing.review", financing_id=financing_id, user="li.wei", recommendation="decline")
    with pytest.raises(DomainError) as caught:
        c.do(c.bank, "financing.approve", financing_id=financing_id, user="zhang.min")
    assert caught.value.code == "invalid_transition"
    c.do(c.bank, "financing.decline", financing_id=financing_id, user="zhang.min", reason="concentration limit")
    assert stage(world, financing_id) == "declined"


def test_the_money_cannot_go_out_before_the_steps_are_done(world: TradeWorld) -> None:
    c, cases = world.chain, world.chain.p.cases
    financing_id, _ = requested(world)
    with pytest.raises(DomainError) as caught:
        cases.disburse(world.acting(c.bank), financing_id, debtor=BANK_ACCOUNT, creditor=supplier_account("T3", 3))
    assert caught.value.code == "invalid_transition"
    with pytest.raises(DomainError):
        cases.sign(world.acting(c.tier3), financing_id)  # not approved yet: no contract to sign


def test_contract_registration_and_disbursement(world: TradeWorld) -> None:
    c, cases = world.chain, world.chain.p.cases
    financing_id, _ = requested(world)
    disbursed(world, financing_id)
    case = cases.case(_party(world, c.bank.party_id), financing_id)
    assert case["stage"] == "disbursed" and case["maker"] == "li.wei" and case["checker"] == "zhang.min"
    assert [s["stage"] for s in case["steps"]] == [
        "verified", "reviewed", "approved", "signed_by_applicant", "contracted", "registered", "disbursed",
    ]
    files = {f["kind"]: f["sha256"] for f in case["files"]}

    # The countersigned contract carries two valid, trusted PAdES signatures: the applicant's, then the bank's.
    _, signed = cases.file(_party(world, c.tier3.party_id), financing_id, case["contract_sha256"])
    checks = c.p.outside.esign.verify(signed)
    assert [ch.signer_party for ch in checks] == [c.tier3.party_id, c.bank.party_id]
    assert all(ch.intact and ch.valid and ch.trusted for ch in checks) and checks[-1].covers_whole_file
    assert files["contract_signed"] == case["contract_sha256"]

    # The registry holds the assignment under the number the case recorded.
    found = c.p.outside.registry.search(cases.collateral_id(_financing(world, financing_id)))
    assert [r.number for r in found] == [case["registry_number"]]

    # The payment instruction validates against the official pain.001.001.09 XSD and pays the net proceeds.
    _, xml = cases.file(_party(world, c.bank.party_id), financing_id, files["pain001"])
    validate_pain001(xml)
    order = parse_pain001(xml)
    assert order.transfers[0].amount_minor == _minor(case["net"])
    assert order.transfers[0].end_to_end_id == financing_id
    assert order.message_id == case["payment_message_id"]


def test_a_late_repayment_goes_overdue_then_recourse_then_closes(world: TradeWorld) -> None:
    c, cases = world.chain, world.chain.p.cases
    financing_id, _ = requested(world, recourse=True)
    disbursed(world, financing_id)
    maturity = cases.case(_party(world, c.bank.party_id), financing_id)["maturity"]
    c.clock.advance(days=91)
    operator = Acting(c.p.operator.party_id, None, lambda kind, body: c.do(c.p.operator, kind, **body))
    assert cases.sweep_overdue(operator) == [financing_id]
    assert stage(world, financing_id) == "overdue"
    assert cases.sweep_overdue(operator) == []  # once is enough
    c.do(c.bank, "financing.recourse", financing_id=financing_id, user="zhang.min")
    assert stage(world, financing_id) == "recourse"

    # Tier-3 pays back in two instalments; the bank's camt.054 notifications are reconciled.
    bank = c.p.outside.bank
    bank.credit(BANK_ACCOUNT, amount_minor=50_000_00, currency="CNY", end_to_end_id=financing_id,
                debtor_name="Tier-3 Ltd")
    first = cases.reconcile(world.acting(c.bank), bank.notifications(BANK_ACCOUNT.number))
    assert [r["financing_id"] for r in first.recorded] == [financing_id]
    assert stage(world, financing_id) == "recourse"
    bank.credit(BANK_ACCOUNT, amount_minor=100_000_00, currency="CNY", remittance=f"repayment of {financing_id}",
                debtor_name="Tier-3 Ltd")
    notification = bank.notifications(BANK_ACCOUNT.number)
    second = cases.reconcile(world.acting(c.bank), notification)
    assert [r["stage"] for r in second.recorded] == ["closed"]
    case = cases.case(_party(world, c.bank.party_id), financing_id)
    assert case["stage"] == "closed" and case["outstanding"] == "0.00" and len(case["repayments"]) == 2
    assert maturity < c.clock.now.date().isoformat()

    # The same notification imported twice changes nothing.
    again = cases.reconcile(world.acting(c.bank), notification)
    assert again.recorded == [] and [s["reason"] for s in again.skipped] == ["already recorded"]


def test_without_recourse_the_applicant_owes_nothing(world: TradeWorld) -> None:
    c, cases = world.chain, world.chain.p.cases
    financing_id, _ = requested(world, recourse=False)
    disbursed(world, financing_id)
    c.clock.advance(days=91)
    c.do(c.bank, "financing.overdue", financing_id=financing_id)
    with pytest.raises(DomainError) as caught:
        c.do(c.bank, "financing.recourse", financing_id=financing_id)
    assert caught.value.code == "not_authorised"
    del cases


def test_a_repayment_beyond_what_is_owed_is_refused(world: TradeWorld) -> None:
    c = world.chain
    financing_id, _ = requested(world)
    disbursed(world, financing_id)
    with pytest.raises(DomainError) as caught:
        c.do(c.bank, "financing.repay", financing_id=financing_id, entry_ref="E-1", amount="150000.01",
             currency="CNY", booking_date=c.clock.now.date().isoformat())
    assert caught.value.code == "overpayment"
    c.do(c.bank, "financing.repay", financing_id=financing_id, entry_ref="E-1", amount="150000.00",
         currency="CNY", booking_date=c.clock.now.date().isoformat())
    with pytest.raises(DomainError) as caught:
        c.do(c.bank, "financing.repay", financing_id=financing_id, entry_ref="E-1", amount="1.00",
             currency="CNY", booking_date=c.clock.now.date().isoformat())
    assert caught.value.code in ("repayment_already_recorded", "invalid_transition")


def test_a_second_institution_cannot_register_the_same_receivable(world: TradeWorld) -> None:
    c, cases = world.chain, world.chain.p.cases
    financing_id, _ = requested(world)
    approved(world, financing_id)
    cases.sign(world.acting(c.tier3), financing_id)
    cases.sign(world.acting(c.bank, "zhang.min"), financing_id)
    financing = _financing(world, financing_id)
    # Someone else got there first at the registry (an off-platform pledge of the same receivable).
    c.p.outside.registry.register(RegistrationRequest(
        pledgor_name="Tier-3 Ltd", pledgor_id=c.tier3.party_id, pledgee_name="Shadow Factoring",
        pledgee_id="shadow", collateral_id=cases.collateral_id(financing), description="same receivable",
        amount_minor=150_000_00, currency="CNY", period_end=c.clock.now.date() + timedelta(days=365)))
    with pytest.raises(DomainError) as caught:
        cases.register(world.acting(c.bank), financing_id)
    assert caught.value.code == "external_service_refused"
    assert "registry" in caught.value.message
    assert stage(world, financing_id) == "contracted"


def _party(world: TradeWorld, party_id: str) -> Any:
    with world.chain.p.uow(read_only=True) as uow:
        return uow.repo.get_party(party_id)


def _financing(world: TradeWorld, financing_id: str) -> Any:
    with world.chain.p.uow(read_only=True) as uow:
        return uow.repo.get_financing(financing_id)


def _minor(amount: str) -> int:
    whole, _, cents = amount.partition(".")
    return int(whole) * 100 + int(cents or 0)
