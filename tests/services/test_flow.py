"""Worked examples of the core flow, in the business's words, with exact figures."""

from __future__ import annotations

import pytest

from tests.conftest import Chain
from tierflow.api.background import expire_offers
from tierflow.domain.errors import DomainError
from tierflow.domain.model import Party


def party(chain: Chain, key_id: str) -> Party:
    with chain.p.uow() as uow:
        found = uow.repo.get_party(key_id)
    assert found is not None
    return found


def test_core_co_issues_and_tier1_pays_tier2_with_part_of_it(chain: Chain) -> None:
    issued = chain.issue("1000000.00", days=90)
    offered = chain.offer(chain.tier1, issued["holding_id"], chain.tier2, "300000.00")
    accepted = chain.do(chain.tier2, "transfer.accept", offer_id=offered["offer_id"])
    holding = chain.p.queries.holding(party(chain, chain.tier2.party_id), str(accepted["holding_id"]))
    assert holding["tier"] == 2
    assert holding["amount"] == {"amount": "300000.00", "currency": "CNY"}
    assert holding["units"] == {"start": 1, "end": 30000000}  # the part moved takes the lowest units
    change = chain.p.queries.holding(party(chain, chain.tier1.party_id), str(offered["change_holding_id"]))
    assert change["units"] == {"start": 30000001, "end": 100000000} and change["tier"] == 1


def test_tier2_rejects_and_the_units_come_back_to_tier1(chain: Chain) -> None:
    issued = chain.issue("5000.00")
    offered = chain.offer(chain.tier1, issued["holding_id"], chain.tier2, "5000.00")
    back = chain.do(chain.tier2, "transfer.reject", offer_id=offered["offer_id"], reason="wrong goods")
    holding = chain.p.queries.holding(party(chain, chain.tier1.party_id), str(back["returned_holding_id"]))
    assert holding["holder"] == chain.tier1.party_id and holding["tier"] == 1 and holding["status"] == "live"


def test_an_offer_nobody_answers_expires_and_returns(chain: Chain) -> None:
    issued = chain.issue("5000.00")
    offered = chain.offer(chain.tier1, issued["holding_id"], chain.tier2, "1000.00")
    chain.clock.advance(hours=73)  # offers stay open 72 hours
    with pytest.raises(DomainError) as refused:
        chain.do(chain.tier2, "transfer.accept", offer_id=offered["offer_id"])
    assert refused.value.code == "offer_expired"
    assert expire_offers(chain.p) == 1
    offer = chain.p.queries.offer(party(chain, chain.tier1.party_id), str(offered["offer_id"]))
    assert offer["status"] == "expired"


def test_bank_discounts_90_days_at_365_percent_act_360(chain: Chain) -> None:
    issued = chain.issue("1000000.00", days=90)
    asked = chain.do(
        chain.tier1,
        "financing.request",
        holding_id=issued["holding_id"],
        financier=chain.bank.party_id,
        amount="1000000.00",
        currency="CNY",
        annual_rate="0.0365",
        fee="100.00",
    )
    # 1,000,000.00 x 3.65% x 90 / 360 = 9,125.00 discount; net = 1,000,000.00 - 9,125.00 - 100.00.
    assert asked["quote"] == {"days": 90, "discount": "9125.00", "fee": "100.00", "net": "990775.00", "currency": "CNY"}
    chain.clock.advance(days=10)  # funded ten days later: re-priced for 80 days
    funded = chain.disburse(asked["financing_id"])
    assert funded["quote"]["days"] == 80 and funded["quote"]["discount"] == "8111.11"
    held = chain.p.queries.holding(party(chain, chain.bank.party_id), str(funded["holding_id"]))
    assert held["tier"] == 1  # a sale to a financier does not add a tier


def test_partial_payment_is_shared_pari_passu_and_the_rest_goes_overdue(chain: Chain) -> None:
    issued = chain.issue("1000.00", days=30)
    offered = chain.offer(chain.tier1, issued["holding_id"], chain.tier2, "250.00")
    chain.do(chain.tier2, "transfer.accept", offer_id=offered["offer_id"])
    chain.clock.advance(days=30)
    settled = chain.do(
        chain.core, "voucher.settle", voucher_id=_voucher_of(chain, issued), amount="800.00", currency="CNY"
    )
    payments = {p["holder"]: p["amount"] for p in settled["payments"]}  # type: ignore[union-attr]
    assert payments == {chain.tier2.party_id: "200.00", chain.tier1.party_id: "600.00"}
    assert settled["overdue"] == "200.00" and settled["voucher_status"] == "overdue"
    with pytest.raises(DomainError) as refused:
        chain.issue("10.00")
    assert refused.value.code == "obligor_overdue"


def test_a_frozen_dispute_does_not_stop_the_rest_being_paid(chain: Chain) -> None:
    issued = chain.issue("1000.00", days=30)
    frozen = chain.do(
        chain.p.operator,
        "holding.freeze",
        holding_id=issued["holding_id"],
        start_unit=1,
        end_unit=10000,
        reason="quality dispute on lot 7",
    )
    chain.clock.advance(days=30)
    settled = chain.do(
        chain.core, "voucher.settle", voucher_id=_voucher_of(chain, issued), amount="900.00", currency="CNY"
    )
    assert settled["payments"] == [  # only the undisputed 900.00 is payable
        {
            "holding_id": settled["payments"][0]["holding_id"],
            "holder": chain.tier1.party_id,  # type: ignore[index]
            "amount": "900.00",
        }
    ]
    released = chain.do(chain.p.operator, "freeze.release", freeze_id=frozen["freeze_id"])
    assert released["status"] == "overdue"  # released after maturity: now owed, and late


def _voucher_of(chain: Chain, issued: dict[str, object]) -> str:
    return str(issued["voucher_id"])
