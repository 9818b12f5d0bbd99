"""The core flow, end to end through the service layer, in the business's words."""

from __future__ import annotations

from tests.conftest import Chain


def test_core_co_issues_and_tier1_pays_tier2_with_part_of_it(chain: Chain) -> None:
    issued = chain.issue("1000000.00", days=90)
    offered = chain.offer(chain.tier1, issued["holding_id"], chain.tier2, "300000.00")
    accepted = chain.do(chain.tier2, "transfer.accept", offer_id=offered["offer_id"])
    holding = chain.p.queries.holding(chain.p.operator and _op(chain), str(accepted["holding_id"]))
    assert holding["tier"] == 2
    assert holding["amount"] == {"amount": "300000.00", "currency": "CNY"}
    assert holding["units"] == {"start": 1, "end": 30000000}


def _op(chain: Chain):  # type: ignore[no-untyped-def]
    from tierflow.domain.model import Party, Role

    return Party(chain.p.operator.party_id, "op", Role.OPERATOR, chain.p.operator.public_key)
