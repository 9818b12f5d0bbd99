"""Trade-background verification: Core Co pays Tier-1, who pays Tier-2, who pays Tier-3, who sells to City Bank."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierflow.domain.documents import Contract, DeliveryNote, VatInvoice, uscc_check_char
from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.domain.verification import (
    DEFAULT_RULES,
    DEFAULT_RULESET,
    Documents,
    Facts,
    Hop,
    HopKind,
    InvalidFacts,
    InvoiceUsage,
    InvoiceUse,
    ObligorStatus,
    Outcome,
    PartyFacts,
    Rule,
    RuleResult,
    RuleSet,
    UsageBudget,
    Verdict,
    allocate_invoice_usage,
    verify,
    worst,
)


def uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


CORE = PartyFacts("core-co", "Core Co", uscc("91310000MA1C0REC0"), is_sme=False)
TIER1 = PartyFacts("tier1-ltd", "Tier1 Ltd", uscc("91320500MA1T1ER01"), is_sme=True)
TIER2 = PartyFacts("tier2-ltd", "Tier2 Ltd", uscc("91330100MA2T1ER02"), is_sme=True)
TIER3 = PartyFacts("tier3-ltd", "Tier3 Ltd", uscc("91340100MA3T1ER03"), is_sme=True)
BANK = PartyFacts("city-bank", "City Bank", "91310000132149237G", is_sme=False)

MATURITY = date(2025, 3, 1)
YEAR_2025 = (date(2025, 1, 1), date(2025, 12, 31))


def inv(number: str, seller: PartyFacts, buyer: PartyFacts, on: date, total: int) -> VatInvoice:
    tax = total * 13 // 113
    return VatInvoice(number, on, seller.name, seller.uscc, buyer.name, buyer.uscc, total - tax, tax, total)


def con(number: str, seller: PartyFacts, buyer: PartyFacts, terms: int = 90) -> Contract:
    return Contract(number, buyer.id, seller.id, date(2024, 12, 20), *YEAR_2025, 10_000_000_00, "CNY", terms)


I1 = inv("25310000000000000001", TIER1, CORE, date(2025, 1, 5), 113_000_00)
I2 = inv("25320000000000000002", TIER2, TIER1, date(2025, 1, 15), 50_000_00)
I3 = inv("25330000000000000003", TIER3, TIER2, date(2025, 1, 25), 20_000_00)
C1, C2, C3 = con("PO-1", TIER1, CORE), con("PO-2", TIER2, TIER1), con("PO-3", TIER3, TIER2)
DN1 = DeliveryNote("DN-1", date(2025, 1, 3), TIER1.id, CORE.id, "PO-1", "steel coil, 20 t")
DOCS = Documents.of(I1, I2, I3, C1, C2, C3, DN1)

ISSUE = Hop(
    "h1", HopKind.ISSUE, "v1", CORE, TIER1, date(2025, 1, 10), MATURITY, 113_000_00, "CNY", (I1.number,), "PO-1",
    ("DN-1",),
)  # fmt: skip
TRANSFER = Hop(
    "h2", HopKind.TRANSFER, "v1", TIER1, TIER2, date(2025, 1, 20), MATURITY, 50_000_00, "CNY", (I2.number,), "PO-2"
)  # fmt: skip
TRANSFER2 = Hop(
    "h3", HopKind.TRANSFER, "v1", TIER2, TIER3, date(2025, 2, 1), MATURITY, 20_000_00, "CNY", (I3.number,), "PO-3"
)  # fmt: skip
FINANCING = Hop(
    "f1", HopKind.FINANCING, "v1", TIER3, BANK, date(2025, 2, 5), MATURITY, 20_000_00, "CNY", (I3.number,), "PO-3",
    backing=TRANSFER2,
)  # fmt: skip

GOOD = ObligorStatus(CORE.id, has_overdue_vouchers=False)


def facts(
    hop: Hop,
    *,
    usage: Mapping[str, InvoiceUsage] | None = None,
    docs: Documents = DOCS,
    obligor: ObligorStatus = GOOD,
    related: frozenset[frozenset[str]] = frozenset(),
) -> Facts:
    return Facts(hop, docs, obligor, related, usage or {})


def used(number: str, *uses: tuple[str, HopKind, int]) -> dict[str, InvoiceUsage]:
    return {number: InvoiceUsage(number, tuple(InvoiceUse(*u) for u in uses))}


def only(verdict: Verdict, outcome: Outcome) -> dict[str, tuple[str, ...]]:
    """The rules that ended in ``outcome``, with their reasons."""
    return {r.rule: r.reasons for r in verdict.results if r.outcome is outcome}


# --------------------------------------------------------------------------- the chain


def test_a_clean_three_tier_chain_passes() -> None:
    ledger: dict[str, InvoiceUsage] = {}
    for hop in (ISSUE, TRANSFER, TRANSFER2, FINANCING):
        verdict = verify(facts(hop, usage=ledger))
        assert verdict.outcome is Outcome.PASS, verdict
        assert [r.version for r in verdict.results] == [r.version for r in DEFAULT_RULES]
        assert all(r.reasons for r in verdict.results)
        allocations, shortfall = allocate_invoice_usage(facts(hop, usage=ledger))
        assert shortfall == 0
        for a in allocations:  # what the caller records once the hop is accepted
            ledger[a.invoice_number] = ledger.get(a.invoice_number, InvoiceUsage(a.invoice_number)).with_use(
                InvoiceUse(hop.id, hop.kind, a.amount_minor)
            )
    assert ledger[I3.number].payment_minor == ledger[I3.number].financing_minor == 20_000_00


def test_passes_explain_themselves() -> None:
    v = verify(facts(ISSUE))
    assert v.result("invoice-parties").reasons == ("the invoices are from the seller Tier1 Ltd to the buyer Core Co",)
    assert v.result("sme-sixty-days").reasons == (
        "SME Tier1 Ltd is paid 57 days after the delivery on 2025-01-03, within 60 days",
    )
    assert v.result("tenor-vs-terms").reasons == (
        "the voucher matures 50 days after the issue, within 90 days' payment terms",
    )
    assert v.result("financing-backing").reasons == ("not a financing (issue)",)
    assert verify(facts(FINANCING)).result("financing-backing").reasons == (
        "financing is backed by transfer h3 to Tier3 Ltd",
    )


# --------------------------------------------------------------------------- invoice usage


def test_a_second_financing_of_an_already_used_invoice_fails_naming_the_first() -> None:
    second = replace(FINANCING, id="f2")
    usage = used(I3.number, ("h3", HopKind.TRANSFER, 20_000_00), ("f1", HopKind.FINANCING, 20_000_00))
    verdict = verify(facts(second, usage=usage))
    assert verdict.outcome is Outcome.FAIL
    assert only(verdict, Outcome.FAIL) == {
        "invoice-usage": (
            "the invoices cannot back CNY 20000.00: CNY 20000.00 is uncovered",
            "invoice 25330000000000000003 (total CNY 20000.00) already backs CNY 20000.00 of financings: "
            "financing f1 (CNY 20000.00)",
        )
    }


def test_a_financing_does_not_consume_the_payment_budget() -> None:
    usage = used(I3.number, ("h3", HopKind.TRANSFER, 20_000_00))
    assert verify(facts(FINANCING, usage=usage)).outcome is Outcome.PASS


def test_a_second_payment_with_a_spent_invoice_fails_naming_the_first() -> None:
    again = replace(TRANSFER, id="h9", amount_minor=1)
    verdict = verify(facts(again, usage=used(I2.number, ("h2", HopKind.TRANSFER, 50_000_00))))
    assert only(verdict, Outcome.FAIL) == {
        "invoice-usage": (
            "the invoices cannot back CNY 0.01: CNY 0.01 is uncovered",
            "invoice 25320000000000000002 (total CNY 50000.00) already backs CNY 50000.00 of payments: "
            "transfer h2 (CNY 50000.00)",
        )
    }


def test_several_invoices_together_cover_a_hop_in_claimed_order() -> None:
    extra = inv("25320000000000000022", TIER2, TIER1, date(2025, 1, 16), 30_000_00)
    hop = replace(TRANSFER, amount_minor=70_000_00, invoice_numbers=(I2.number, extra.number))
    f = facts(hop, docs=Documents.of(I2, extra, C2), usage=used(I2.number, ("h0", HopKind.TRANSFER, 10_000_00)))
    assert verify(f).outcome is Outcome.PASS
    allocations, shortfall = allocate_invoice_usage(f)
    assert [(a.invoice_number, a.amount_minor) for a in allocations] == [
        (I2.number, 40_000_00),
        (extra.number, 30_000_00),
    ]
    assert shortfall == 0


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=10**12),
    cuts=st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=25),
)
def test_splitting_an_invoice_across_hops_passes_until_one_fen_too_many(total: int, cuts: list[int]) -> None:
    number = "25320000000000000777"
    invoice = VatInvoice(number, date(2025, 1, 15), "Tier2 Ltd", TIER2.uscc, "Tier1 Ltd", TIER1.uscc, total, 0, total)
    docs = Documents.of(invoice, C2)
    # Split the total into hops of positive amounts, proportional to ``cuts``.
    weight = sum(cuts)
    amounts = [max(1, total * c // weight) for c in cuts]
    amounts = [a for a in amounts if a > 0]
    record = InvoiceUsage(number)
    spent = 0
    for i, amount in enumerate(amounts):
        if spent + amount > total:
            break
        hop = replace(TRANSFER, id=f"h{i}", amount_minor=amount, invoice_numbers=(number,))
        result = verify(facts(hop, docs=docs, usage={number: record})).result("invoice-usage")
        assert result.outcome is Outcome.PASS, result
        record = record.with_use(InvoiceUse(hop.id, HopKind.TRANSFER, amount))
        spent += amount
    assert record.payment_minor == spent <= total
    if spent < total:  # the rest still fits exactly
        rest = replace(TRANSFER, id="rest", amount_minor=total - spent, invoice_numbers=(number,))
        assert verify(facts(rest, docs=docs, usage={number: record})).result("invoice-usage").outcome is Outcome.PASS
        record = record.with_use(InvoiceUse("rest", HopKind.TRANSFER, total - spent))
    one_fen = replace(TRANSFER, id="over", amount_minor=1, invoice_numbers=(number,))
    over = verify(facts(one_fen, docs=docs, usage={number: record})).result("invoice-usage")
    assert over.outcome is Outcome.FAIL
    assert over.reasons[0] == "the invoices cannot back CNY 0.01: CNY 0.01 is uncovered"


# --------------------------------------------------------------------------- the trade behind a hop


def test_a_transfer_backed_by_an_invoice_between_other_parties_fails() -> None:
    hop = replace(TRANSFER, invoice_numbers=(I1.number,), amount_minor=1_000_00)  # Tier1's invoice to Core Co
    verdict = verify(facts(hop))
    assert verdict.outcome is Outcome.FAIL
    assert only(verdict, Outcome.FAIL) == {
        "invoice-parties": (
            f"invoice {I1.number} was issued by Tier1 Ltd ({TIER1.uscc}), not by the seller Tier2 Ltd ({TIER2.uscc})",
            f"invoice {I1.number} was issued to Core Co ({CORE.uscc}), not to the buyer Tier1 Ltd ({TIER1.uscc})",
        )
    }


def test_an_invoice_issued_the_wrong_way_round_fails() -> None:
    # The payer issued the invoice to the payee: goods flowed the same way as the voucher.
    backwards = inv("25320000000000000009", TIER1, TIER2, date(2025, 1, 15), 50_000_00)
    hop = replace(TRANSFER, invoice_numbers=(backwards.number,))
    reasons = verify(facts(hop, docs=Documents.of(backwards, C2))).result("invoice-parties").reasons
    n = backwards.number
    assert reasons == (
        f"invoice {n} was issued by Tier1 Ltd ({TIER1.uscc}), not by the seller Tier2 Ltd ({TIER2.uscc})",
        f"invoice {n} was issued to Tier2 Ltd ({TIER2.uscc}), not to the buyer Tier1 Ltd ({TIER1.uscc})",
    )


def test_an_invoice_dated_after_the_hop_fails() -> None:
    late = replace(I2, issued_on=date(2025, 1, 21))
    verdict = verify(facts(TRANSFER, docs=Documents.of(late, C2)))
    assert verdict.outcome is Outcome.FAIL
    assert only(verdict, Outcome.FAIL) == {
        "invoice-date": (f"invoice {I2.number} is dated 2025-01-21, after the transfer h2 on 2025-01-20",)
    }


def test_an_invoice_dated_on_the_hop_day_passes() -> None:
    same_day = replace(I2, issued_on=TRANSFER.hop_date)
    assert verify(facts(TRANSFER, docs=Documents.of(same_day, C2))).outcome is Outcome.PASS


def test_a_financing_rechecks_the_invoice_of_its_backing_hop() -> None:
    late = replace(I3, issued_on=date(2025, 2, 3))  # after the transfer, before the financing
    verdict = verify(facts(FINANCING, docs=Documents.of(late, C3)))
    assert only(verdict, Outcome.FAIL) == {
        "invoice-date": (f"invoice {I3.number} is dated 2025-02-03, after the transfer h3 on 2025-02-01",)
    }


def test_a_claimed_invoice_must_be_supplied() -> None:
    verdict = verify(facts(TRANSFER, docs=Documents.of(C2)))
    assert only(verdict, Outcome.FAIL) == {
        "invoice-format": (f"invoice {I2.number} is claimed but not supplied",),
        "invoice-usage": ("no supplied invoice backs this hop",),
    }


def test_malformed_and_repeated_invoice_claims_fail() -> None:
    hop = replace(TRANSFER, invoice_numbers=("INV-1", I2.number, I2.number))
    assert verify(facts(hop)).result("invoice-format").reasons == (
        "transfer h2 claims the same invoice more than once",
        "invoice number 'INV-1' is not 20 digits",
    )
    assert verify(facts(replace(TRANSFER, invoice_numbers=()))).result("invoice-format").reasons[0] == (
        "transfer h2 claims no invoice"
    )


def test_an_invoice_number_of_another_year_is_a_warning() -> None:
    odd = replace(I2, number="24320000000000000002")
    hop = replace(TRANSFER, invoice_numbers=(odd.number,))
    verdict = verify(facts(hop, docs=Documents.of(odd, C2)))
    assert verdict.outcome is Outcome.WARN
    assert only(verdict, Outcome.WARN) == {
        "invoice-format": ("invoice 24320000000000000002 starts with year 24 but was issued on 2025-01-15",)
    }


def test_an_invalid_registered_uscc_fails() -> None:
    bad = replace(TIER2, uscc=TIER2.uscc[:-1] + ("0" if TIER2.uscc[-1] != "0" else "1"))
    verdict = verify(facts(replace(TRANSFER, to_party=bad)))
    reasons = verdict.result("uscc-check-digit").reasons
    assert verdict.result("uscc-check-digit").outcome is Outcome.FAIL
    assert len(reasons) == 1 and reasons[0].startswith(
        f"transferee {TIER2.name} (tier2-ltd)'s registered USCC is invalid: check character"
    )


def test_a_party_with_no_uscc_on_record_fails_in_words() -> None:
    verdict = verify(facts(replace(TRANSFER, to_party=replace(TIER2, uscc=""))))
    assert verdict.result("uscc-check-digit").reasons == (
        f"transferee {TIER2.name} (tier2-ltd) has no USCC on record (no registered invoice names it)",
    )


def test_a_contract_out_of_force_fails() -> None:
    expired = replace(C2, effective_until=date(2025, 1, 19))
    assert only(verify(facts(TRANSFER, docs=Documents.of(I2, expired))), Outcome.FAIL) == {
        "contract-in-force": ("contract PO-2 is in force 2025-01-01 to 2025-01-19, not on 2025-01-20",)
    }


def test_a_contract_between_other_parties_fails() -> None:
    hop = replace(TRANSFER, contract_number="PO-1")
    assert verify(facts(hop)).result("contract-in-force").reasons == (
        "contract PO-1 is a sale by tier1-ltd to core-co, not by tier2-ltd to tier1-ltd",
    )


def test_a_missing_contract_fails() -> None:
    assert verify(facts(replace(TRANSFER, contract_number=None))).result("contract-in-force").reasons == (
        "transfer h2 claims no contract",
    )
    verdict = verify(facts(replace(TRANSFER, contract_number="PO-X")))
    assert verdict.result("contract-in-force").reasons == ("contract PO-X is claimed but not supplied",)
    assert verdict.result("tenor-vs-terms").outcome is Outcome.PASS  # assessed by contract-in-force instead


def test_a_delivery_note_of_another_trade_fails() -> None:
    hop = replace(TRANSFER, delivery_note_numbers=("DN-1", "DN-9"))
    assert verify(facts(hop)).result("delivery-notes").reasons == (
        "delivery note DN-1 is under contract PO-1, not PO-2",
        "delivery note DN-1 records a delivery by tier1-ltd to core-co, not by tier2-ltd to tier1-ltd",
        "delivery note DN-9 is claimed but not supplied",
    )


# --------------------------------------------------------------------------- standing, relations, terms


def test_an_obligor_with_overdue_vouchers_fails() -> None:
    verdict = verify(facts(TRANSFER, obligor=ObligorStatus(CORE.id, has_overdue_vouchers=True)))
    assert only(verdict, Outcome.FAIL) == {"obligor-standing": ("obligor core-co has overdue vouchers",)}


def test_related_parties_are_flagged_not_failed() -> None:
    verdict = verify(facts(TRANSFER, related=frozenset({frozenset({TIER2.id, TIER1.id})})))
    assert verdict.outcome is Outcome.WARN
    assert only(verdict, Outcome.WARN) == {"related-parties": ("Tier1 Ltd and Tier2 Ltd are related parties",)}
    assert verdict.failures == ()


def test_a_tenor_beyond_the_payment_terms_is_a_warning() -> None:
    short_terms = replace(C2, payment_terms_days=30)
    verdict = verify(facts(TRANSFER, docs=Documents.of(I2, short_terms)))
    assert only(verdict, Outcome.WARN) == {
        "tenor-vs-terms": (
            "the voucher matures 40 days after the transfer on 2025-01-20, beyond contract PO-2's payment "
            "terms of 30 days",
        )
    }


def test_sme_paid_beyond_sixty_days_is_a_warning() -> None:
    late = replace(ISSUE, maturity=date(2025, 3, 5))  # 61 days after the delivery on 3 January
    verdict = verify(facts(late))
    assert verdict.outcome is Outcome.WARN
    assert only(verdict, Outcome.WARN) == {
        "sme-sixty-days": (
            "SME Tier1 Ltd is paid by a voucher maturing 2025-03-05, 61 days after the delivery on 2025-01-03; "
            "large enterprises must pay SMEs within 60 days",
        )
    }
    assert verify(facts(replace(ISSUE, maturity=date(2025, 3, 4)))).outcome is Outcome.PASS  # exactly 60 days


def test_without_a_delivery_note_the_sixty_days_run_from_the_invoice() -> None:
    hop = replace(ISSUE, delivery_note_numbers=(), maturity=date(2025, 3, 7))  # 61 days after 5 January
    assert verify(facts(hop)).result("sme-sixty-days").reasons == (
        "SME Tier1 Ltd is paid by a voucher maturing 2025-03-07, 61 days after the invoice on 2025-01-05; "
        "large enterprises must pay SMEs within 60 days",
    )


def test_the_sixty_day_rule_is_for_large_enterprises_paying_smes() -> None:
    long = replace(TRANSFER, maturity=date(2025, 6, 1))
    assert verify(facts(long)).result("sme-sixty-days").reasons == (
        "not a large enterprise paying an SME (Tier1 Ltd pays Tier2 Ltd)",
    )


# --------------------------------------------------------------------------- financings


def test_a_financing_must_rest_on_the_applicants_own_hop() -> None:
    stray = replace(
        FINANCING,
        from_party=TIER2,
        voucher_id="v2",
        amount_minor=20_000_01,
        invoice_numbers=(I2.number,),
        contract_number="PO-2",
        hop_date=date(2025, 1, 31),
    )
    assert verify(facts(stray)).result("financing-backing").reasons == (
        "transfer h3 brought the holding to tier3-ltd, not tier2-ltd",
        "transfer h3 moved voucher v1, not v2",
        "transfer h3 on 2025-02-01 is after the financing",
        "financing CNY 20000.01 exceeds the transfer of CNY 20000.00",
        f"invoice {I2.number} did not back transfer h3",
        "contract PO-2 is not the one behind transfer h3",
    )


# --------------------------------------------------------------------------- the engine


def test_outcomes_combine_to_the_worst() -> None:
    assert worst([]) is Outcome.PASS
    assert worst([Outcome.PASS, Outcome.WARN]) is Outcome.WARN
    assert worst([Outcome.WARN, Outcome.FAIL, Outcome.PASS]) is Outcome.FAIL


def test_rules_are_named_versioned_and_explained() -> None:
    assert DEFAULT_RULESET.versions == (
        "uscc-check-digit@2",
        "invoice-format@1",
        "invoice-parties@1",
        "invoice-date@1",
        "contract-in-force@1",
        "delivery-notes@1",
        "invoice-usage@1",
        "obligor-standing@1",
        "related-parties@1",
        "tenor-vs-terms@1",
        "sme-sixty-days@1",
        "financing-backing@1",
    )
    for rule in DEFAULT_RULES:
        assert rule.explanation.endswith(".") and "\n" not in rule.explanation


def test_a_custom_rule_set_runs_its_own_rules() -> None:
    always_warn = Rule("always-warn", 2, "Warns.", lambda f: (Outcome.WARN, [f"looked at {f.hop.id}"]))
    verdict = RuleSet((always_warn,)).run(facts(ISSUE))
    assert verdict == Verdict(
        Outcome.WARN, (RuleResult("always-warn", "always-warn@2", Outcome.WARN, ("looked at h1",)),)
    )
    assert verdict.warnings == verdict.results
    with pytest.raises(KeyError):
        verdict.result("nope")


def test_bad_rule_sets_and_silent_results_are_refused() -> None:
    with pytest.raises(InvalidFacts, match="unique"):
        RuleSet((DEFAULT_RULES[0], DEFAULT_RULES[0]))
    with pytest.raises(InvalidFacts, match="no reason"):
        RuleResult("x", "x@1", Outcome.PASS, ())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount_minor": 0}, "positive integer"),
        ({"amount_minor": True}, "positive integer"),
        ({"currency": "XXX"}, "unknown currency"),
        ({"to_party": TIER1}, "to itself"),
        ({"invoice_numbers": [I2.number]}, "tuples"),
        ({"kind": "transfer"}, "HopKind"),
        ({"backing": ISSUE}, "only a financing"),
    ],
)
def test_malformed_hops_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidFacts, match=message):
        replace(TRANSFER, **changes)  # type: ignore[arg-type]


def test_financings_need_a_non_financing_backing() -> None:
    with pytest.raises(InvalidFacts, match="only a financing"):
        replace(FINANCING, backing=None)
    with pytest.raises(InvalidFacts, match="backed by an issue or transfer"):
        replace(FINANCING, backing=FINANCING)


def test_usage_records_and_documents_validate() -> None:
    with pytest.raises(InvalidFacts, match="positive integer"):
        InvoiceUse("h1", HopKind.ISSUE, 0)
    with pytest.raises(InvalidFacts, match="given twice"):
        Documents.of(I1, I1)
    record = InvoiceUsage("n", (InvoiceUse("a", HopKind.ISSUE, 5), InvoiceUse("b", HopKind.FINANCING, 7)))
    assert (record.used_minor(UsageBudget.PAYMENT), record.used_minor(UsageBudget.FINANCING)) == (5, 7)
    assert InvalidFacts.code == "invalid_facts" and InvalidFacts.kind is ErrorKind.INVALID
    assert issubclass(InvalidFacts, DomainError)


def test_many_hops_verify_quickly() -> None:
    # Per-hop cost is independent of how much the platform holds: 2,000 hops over a 2,000-invoice ledger.
    ledger = {f"{i:020d}": InvoiceUsage(f"{i:020d}", (InvoiceUse(f"x{i}", HopKind.TRANSFER, 1),)) for i in range(2000)}
    for i in range(2000):
        hop = replace(TRANSFER, id=f"h{i}")
        assert verify(facts(hop, usage=ledger)).outcome is Outcome.PASS
