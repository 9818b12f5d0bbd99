"""Bad input through the service layer: each is refused with a stable code and changes nothing."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import pairwise

import pytest

from tests.conftest import Chain, FakeClock
from tierflow.bootstrap import Platform, open_platform
from tierflow.client import PartyKey
from tierflow.config import Settings
from tierflow.domain.errors import DomainError
from tierflow.services.commands import SignedCommand
from tierflow.services.ledger import Idempotency
from tierflow.store.snapshot import event_count, snapshot


def refused(chain: Chain, code: str, action: Callable[[], object]) -> DomainError:
    before, events = snapshot(chain.p.engine), event_count(chain.p.engine)
    with pytest.raises(DomainError) as caught:
        action()
    assert caught.value.code == code, repr(caught.value)
    assert snapshot(chain.p.engine) == before
    assert event_count(chain.p.engine) == events
    return caught.value


def issue(chain: Chain, amount: str = "1000.00", *, currency: str = "CNY", days: int = 90,
          to: PartyKey | None = None) -> Callable[[], object]:
    maturity = (chain.clock.now + timedelta(days=days)).date().isoformat()
    return lambda: chain.do(
        chain.core, "voucher.issue", first_holder=(to or chain.tier1).party_id, amount=amount, currency=currency,
        maturity=maturity, contract_ref="PO-1", invoice_refs=["INV-1"],
    )


BAD_ISSUES = (
        ("0.00", "CNY", 90, "invalid_amount"),
        ("0", "CNY", 90, "invalid_amount"),
        ("-5.00", "CNY", 90, "invalid_amount"),
        ("1.001", "CNY", 90, "invalid_amount"),
        ("1e3", "CNY", 90, "invalid_amount"),
        ("1,000.00", "CNY", 90, "invalid_amount"),
        ("1000000000.01", "CNY", 90, "face_too_large"),
        ("99999999999999999999999999.00", "CNY", 90, "face_too_large"),
        ("1000.00", "XYZ", 90, "unknown_currency"),
        ("1000.00", "cny", 90, "unknown_currency"),
        ("1000.00", "CNY", 0, "maturity_in_past"),
        ("1000.00", "CNY", -1, "maturity_in_past"),
        ("1000.00", "CNY", 366, "tenor_too_long"),
)


def test_bad_issues_are_refused(chain: Chain) -> None:
    for amount, currency, days, code in BAD_ISSUES:
        refused(chain, code, issue(chain, amount, currency=currency, days=days))


def test_the_largest_face_and_longest_tenor_are_accepted(chain: Chain) -> None:
    issue(chain, "1000000000.00", days=365)()


def test_issue_to_an_unknown_party_or_a_bank_is_refused(chain: Chain) -> None:
    ghost = PartyKey.generate()
    refused(chain, "unknown_party", issue(chain, to=ghost))
    refused(chain, "wrong_role", issue(chain, to=chain.bank))
    refused(chain, "unknown_party", lambda: chain.do(ghost, "voucher.issue", first_holder=chain.tier1.party_id,
                                                     amount="1.00", currency="CNY", maturity="2026-03-01",
                                                     contract_ref="PO", invoice_refs=["I"]))


@pytest.fixture
def held(chain: Chain) -> str:
    return str(chain.issue("1000.00")["holding_id"])


BAD_OFFER_AMOUNTS = (
        ("0.00", "CNY", "invalid_amount"),
        ("-1.00", "CNY", "invalid_amount"),
        ("0.001", "CNY", "invalid_amount"),
        ("1000.01", "CNY", "insufficient_units"),
        ("10.00", "USD", "currency_mismatch"),
        ("10.00", "XYZ", "unknown_currency"),
)


def test_bad_offer_amounts_are_refused(chain: Chain, held: str) -> None:
    for amount, currency, code in BAD_OFFER_AMOUNTS:
        refused(chain, code, lambda a=amount, c=currency: chain.do(  # type: ignore[misc]
            chain.tier1, "transfer.offer", holding_id=held, recipient=chain.tier2.party_id, amount=a, currency=c,
            trade_ref="T", invoice_refs=["I"]))


def test_offers_to_unknown_or_wrong_parties_are_refused(chain: Chain, held: str) -> None:
    def offer(who: PartyKey, recipient: str) -> Callable[[], object]:
        return lambda: chain.do(who, "transfer.offer", holding_id=held, recipient=recipient, amount="1.00",
                                currency="CNY", trade_ref="T", invoice_refs=["I"])

    refused(chain, "unknown_party", offer(chain.tier1, "pty_nobody"))
    refused(chain, "self_transfer", offer(chain.tier1, chain.tier1.party_id))
    refused(chain, "wrong_role", offer(chain.tier1, chain.bank.party_id))
    # A party acting on a holding it does not hold: indistinguishable from an unknown holding.
    refused(chain, "not_found", offer(chain.tier2, chain.tier3.party_id))
    refused(chain, "not_found", offer(chain.core, chain.tier3.party_id))


def test_spending_a_holding_that_is_already_spent_is_refused(chain: Chain, held: str) -> None:
    chain.offer(chain.tier1, held, chain.tier2, "1000.00")
    refused(chain, "holding_not_available", lambda: chain.offer(chain.tier1, held, chain.tier3, "1.00"))


def test_the_tier_limit_refuses_a_twelfth_tier(chain: Chain) -> None:
    holders = [chain.tier1] + [chain.register(f"Supplier {i}", "supplier") for i in range(2, 12)]
    holding = str(chain.issue("1000.00", to=holders[0])["holding_id"])
    for sender, recipient in pairwise(holders):
        offered = chain.offer(sender, holding, recipient, "1.00")
        holding = str(chain.do(recipient, "transfer.accept", offer_id=offered["offer_id"])["holding_id"])
    assert chain.p.queries.holding(_operator(chain), holding)["tier"] == 11
    twelfth = chain.register("Supplier 12", "supplier")
    refused(chain, "tier_limit_exceeded", lambda: chain.offer(holders[-1], holding, twelfth, "1.00"))


def _operator(chain: Chain):  # type: ignore[no-untyped-def]
    from tierflow.domain.model import Party, Role

    return Party(chain.p.operator.party_id, "op", Role.OPERATOR, chain.p.operator.public_key)


@pytest.fixture
def small_policy(settings: Settings, clock: FakeClock) -> Iterator[Platform]:
    platform = open_platform(settings.model_copy(update={"split_limit": 2}), clock=clock)
    yield platform
    platform.close()


def test_the_split_limit_refuses_a_third_split(small_policy: Platform, clock: FakeClock) -> None:
    chain = Chain(small_policy, clock)
    holding = str(chain.issue("1000.00")["holding_id"])
    for _ in range(2):
        holding = str(chain.offer(chain.tier1, holding, chain.tier2, "1.00")["change_holding_id"])
    refused(chain, "split_limit_exceeded", lambda: chain.offer(chain.tier1, holding, chain.tier2, "1.00"))
    # Moving a whole holding is not a split.
    chain.offer(chain.tier1, holding, chain.tier2, "998.00")


def test_only_the_financier_asked_can_fund(chain: Chain, held: str) -> None:
    def request(financier: PartyKey) -> Callable[[], dict[str, object]]:
        return lambda: chain.do(chain.tier1, "financing.request", holding_id=held, financier=financier.party_id,
                                amount="100.00", currency="CNY", annual_rate="0.05")

    refused(chain, "wrong_role", request(chain.tier2))
    financing = request(chain.bank)()["financing_id"]
    paid = {"payment_message_id": "M-1", "payment_sha256": "c" * 64, "bank_reference": "B-1"}
    refused(chain, "not_authorised", lambda: chain.do(chain.tier1, "financing.fund", financing_id=financing, **paid))
    refused(chain, "not_found", lambda: chain.do(chain.tier2, "financing.fund", financing_id=financing, **paid))
    # Not yet reviewed, approved, signed and registered: the money cannot go out.
    refused(chain, "invalid_transition", lambda: chain.do(chain.bank, "financing.fund", financing_id=financing, **paid))
    chain.disburse(financing)
    refused(chain, "invalid_transition", lambda: chain.do(chain.bank, "financing.fund", financing_id=financing, **paid))


def test_a_forged_signature_is_refused(chain: Chain) -> None:
    maturity = (chain.clock.now + timedelta(days=90)).date().isoformat()
    signed = chain.core.command("voucher.issue", {
        "first_holder": chain.tier1.party_id, "amount": "1.00", "currency": "CNY", "maturity": maturity,
        "contract_ref": "PO", "invoice_refs": ["I"]}, now=chain.clock)
    raw = bytearray(base64.b64decode(signed.signature))
    raw[10] ^= 0x01
    forged = SignedCommand(signed.command, base64.b64encode(bytes(raw)).decode())
    refused(chain, "bad_signature", lambda: chain.p.ledger.submit(forged))
    tampered = SignedCommand({**signed.command, "body": {**signed.command["body"], "amount": "2.00"}},
                             signed.signature)
    refused(chain, "bad_signature", lambda: chain.p.ledger.submit(tampered))
    # Signed by someone else's key in the actor's name.
    impostor = chain.tier1.command("voucher.issue", signed.command["body"], actor=chain.core.party_id,
                                   now=chain.clock)
    refused(chain, "bad_signature", lambda: chain.p.ledger.submit(impostor))
    chain.p.ledger.submit(signed)


def test_a_command_is_accepted_once(chain: Chain) -> None:
    maturity = (chain.clock.now + timedelta(days=90)).date().isoformat()
    signed = chain.core.command("voucher.issue", {
        "first_holder": chain.tier1.party_id, "amount": "1.00", "currency": "CNY", "maturity": maturity,
        "contract_ref": "PO", "invoice_refs": ["I"]}, now=chain.clock)
    chain.p.ledger.submit(signed)
    refused(chain, "replayed_command", lambda: chain.p.ledger.submit(signed))


def test_a_command_issued_far_from_the_clock_is_refused(chain: Chain) -> None:
    maturity = (chain.clock.now + timedelta(days=90)).date().isoformat()
    for skew in (timedelta(minutes=11), -timedelta(minutes=11), timedelta(days=365)):
        signed = chain.core.command("voucher.issue", {
            "first_holder": chain.tier1.party_id, "amount": "1.00", "currency": "CNY", "maturity": maturity,
            "contract_ref": "PO", "invoice_refs": ["I"]}, now=chain.clock.now + skew)
        refused(chain, "stale_command", lambda s=signed: chain.p.ledger.submit(s))  # type: ignore[misc]


def test_an_idempotency_key_answers_the_same_request_once(chain: Chain, held: str) -> None:
    def offer(amount: str) -> SignedCommand:
        return chain.tier1.command("transfer.offer", {
            "holding_id": held, "recipient": chain.tier2.party_id, "amount": amount, "currency": "CNY",
            "trade_ref": "T", "invoice_refs": ["I"]}, now=chain.clock)

    first = offer("1.00")
    key = Idempotency("order-42", "hash-of-body-1")
    answer = chain.p.ledger.submit(first, idempotency=key)
    events, before = event_count(chain.p.engine), snapshot(chain.p.engine)

    again = chain.p.ledger.submit(first, idempotency=key)
    assert again.replayed_answer and again.as_json() == answer.as_json()
    assert event_count(chain.p.engine) == events and snapshot(chain.p.engine) == before

    refused(chain, "idempotency_key_reused",
            lambda: chain.p.ledger.submit(offer("2.00"), idempotency=Idempotency("order-42", "hash-of-body-2")))


def test_a_registration_by_anyone_but_the_operator_is_refused(chain: Chain) -> None:
    newcomer = PartyKey.generate()
    signed = newcomer.registration(name="N", role="supplier", operator_id=chain.tier1.party_id, now=chain.clock)
    refused(chain, "not_authorised", lambda: chain.p.ledger.submit(signed))
    with_policy = newcomer.registration(name="N", role="supplier", operator_id=chain.p.operator.party_id,
                                        now=chain.clock, policy={"tier_limit": 99})
    refused(chain, "invalid_command", lambda: chain.p.ledger.submit(with_policy))
