"""Green finance on the ledger: a certifier's labels and green totals, and sustainability-linked pricing — a
certified emission-intensity cut lowers the financing discount by the ratchet; a grid-factor-only change does
not."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Chain
from tierflow.client import PartyKey
from tierflow.domain.errors import DomainError
from tierflow.store import schema_green as g

BASELINE_FACTOR = "cn.grid.national.mee-2023-notice"  # 0.5703 tCO2/MWh, pinned at the baseline
EVIDENCE = [{"description": "verification statement 2025", "sha256": "d" * 64}]


def link(met_bp: int = -10) -> dict[str, Any]:
    return {
        "kpis": [{
            "id": "ghg-intensity", "name": "Scope 1+2 emission intensity",
            "metric": "tCO2e per RMB million revenue", "baseline_value": "0.30", "baseline_year": 2024,
            "target_value": "0.27", "target_year": 2025, "factor_pins": [BASELINE_FACTOR],
        }],
        "ratchet": {"met_bp": met_bp, "missed_bp": 0},
        "floor_rate": "0.01",
    }


@pytest.fixture
def certifier(chain: Chain) -> PartyKey:
    return chain.register("China Green Assurance", "certifier")


def request(chain: Chain, amount: str = "1000000.00") -> str:
    issued = chain.issue(amount)
    asked = chain.do(chain.tier1, "financing.request", holding_id=issued["holding_id"], financier=chain.bank.party_id,
                     amount=amount, currency="CNY", annual_rate="0.0365", sustainability_link=link())
    assert asked["sustainability_link"]["ratchet"]["met_bp"] == -10
    return str(asked["financing_id"])


def certify(chain: Chain, who: PartyKey, financing_id: str, value: str, at_baseline: str) -> dict[str, Any]:
    return chain.do(who, "green.kpi.certify", financing_id=financing_id, kpi_id="ghg-intensity",
                    year=2025, value=value, value_with_baseline_factors=at_baseline,
                    factor_ids=[BASELINE_FACTOR], evidence=EVIDENCE)


def test_a_certified_intensity_cut_lowers_the_discount_by_the_ratchet(chain: Chain, certifier: PartyKey) -> None:
    financing = request(chain)
    certified = certify(chain, certifier, financing, value="0.26", at_baseline="0.26")
    assert certified["assessment"]["outcome"] == "met" and certified["rate"] == "0.0355"
    funded = chain.disburse(financing)
    # 1,000,000.00 x 3.55 % x 90 / 360 = 8,875.00 (at the base 3.65 % it would be 9,125.00).
    assert funded["quote"]["discount"] == "8875.00"
    assert funded["sustainability_link"]["rate"] == "0.0355" and funded["sustainability_link"]["base_rate"] == "0.0365"


def test_a_cut_that_comes_only_from_a_new_grid_factor_is_not_credited(chain: Chain, certifier: PartyKey) -> None:
    financing = request(chain)
    # Reported 0.27 with the newer grid factor; recomputed with the pinned baseline factor it is still 0.30.
    certified = certify(chain, certifier, financing, value="0.27", at_baseline="0.30")
    assert certified["assessment"]["outcome"] == "missed"
    assert "changed emission factors" in certified["assessment"]["reason"]
    funded = chain.disburse(financing)
    assert funded["quote"]["discount"] == "9125.00" and funded["sustainability_link"]["rate"] == "0.0365"


def test_only_a_certifier_certifies_and_only_once_a_year(chain: Chain, certifier: PartyKey) -> None:
    financing = request(chain)
    with pytest.raises(DomainError) as caught:
        certify(chain, chain.bank, financing, value="0.26", at_baseline="0.26")
    assert caught.value.code == "not_authorised"
    certify(chain, certifier, financing, value="0.26", at_baseline="0.26")
    with pytest.raises(DomainError) as caught:
        certify(chain, certifier, financing, value="0.20", at_baseline="0.20")
    assert caught.value.code == "invalid_transition"
    with pytest.raises(DomainError) as caught:  # the recomputation must use the pinned factors
        chain.do(certifier, "green.kpi.certify", financing_id=financing, kpi_id="ghg-intensity", year=2026,
                 value="0.2", value_with_baseline_factors="0.2", factor_ids=["cn.grid.national.2021.mee-nbs-2024"],
                 evidence=EVIDENCE)
    assert caught.value.code == "invalid_command"


def test_bad_sustainability_terms_are_refused(chain: Chain) -> None:
    issued = chain.issue()
    bad = link()
    bad["kpis"][0]["target_value"] = "0.31"  # not an improvement
    with pytest.raises(DomainError) as caught:
        chain.do(chain.tier1, "financing.request", holding_id=issued["holding_id"], financier=chain.bank.party_id,
                 amount="1000.00", currency="CNY", annual_rate="0.0365", sustainability_link=bad)
    assert caught.value.code == "invalid_command"
    positive = link(met_bp=5)
    with pytest.raises(DomainError):
        chain.do(chain.tier1, "financing.request", holding_id=issued["holding_id"], financier=chain.bank.party_id,
                 amount="1000.00", currency="CNY", annual_rate="0.0365", sustainability_link=positive)


def test_labels_are_validated_signed_and_totalled_for_the_bank(chain: Chain, certifier: PartyKey) -> None:
    first, second = request(chain, "600000.00"), request(chain, "400000.00")
    for financing, code in ((first, "3.1.1"), (second, "3.1.2")):
        labelled = chain.do(certifier, "green.label", subject_kind="financing", subject_id=financing,
                            taxonomy="cn-gfspc", version="2025", code=code, criterion_id=f"{code}/c1",
                            evidence=EVIDENCE, valid_from="2026-01-01")
        assert labelled["label"]["item_code"] == code and labelled["path"] == ["3", code.rsplit(".", 1)[0], code]
        chain.disburse(financing)
    with pytest.raises(DomainError) as caught:  # not a leaf of that edition
        chain.do(certifier, "green.label", subject_kind="financing", subject_id=first, taxonomy="cn-gfspc",
                 version="2025", code="3.1", criterion_id="3.1/c1", evidence=EVIDENCE, valid_from="2026-01-01")
    assert caught.value.code == "invalid_command"
    with pytest.raises(DomainError) as caught:
        chain.do(chain.bank, "green.label", subject_kind="financing", subject_id=first, taxonomy="cn-gfspc",
                 version="2025", code="3.1.1", criterion_id="3.1.1/c1", evidence=EVIDENCE, valid_from="2026-01-01")
    assert caught.value.code == "not_authorised"

    bank = _party(chain, chain.bank.party_id)
    rows = {(r["level"], r["code"]): r for r in chain.p.green.totals(bank, taxonomy="cn-gfspc")}
    assert rows[(1, "3")]["amount"] == "1000000.00" and rows[(1, "3")]["subjects"] == 2
    assert rows[(3, "3.1.1")]["amount"] == "600000.00" and rows[(3, "3.1.2")]["amount"] == "400000.00"
    # Another bank sees none of it.
    other = chain.register("Other Bank", "financial_institution")
    assert chain.p.green.totals(_party(chain, other.party_id)) == []

    label_id = chain.p.green.labels(bank, subject_id=first)[0]["label_id"]
    chain.do(certifier, "green.label.revoke", label_id=label_id, reason="evidence withdrawn")
    rows = {(r["level"], r["code"]): r for r in chain.p.green.totals(bank, taxonomy="cn-gfspc")}
    assert rows[(1, "3")]["amount"] == "400000.00"
    with chain.p.engine.connect() as conn:
        status = conn.execute(select(g.green_labels.c.status).where(g.green_labels.c.id == label_id)).scalar()
    assert status == "revoked"


def _party(chain: Chain, party_id: str) -> Any:
    with chain.p.uow(read_only=True) as uow:
        return uow.repo.get_party(party_id)

