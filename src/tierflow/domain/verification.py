"""Trade-background verification: a small, pure rule engine over supplied facts.

Design overview
---------------

- ``Facts`` is everything one check may look at: the ``Hop`` under review (an issue, a
  transfer or a financing), the trade documents by number (``Documents``), the obligor's
  standing, the related-party pairs and the ``InvoiceUsage`` of each invoice by earlier hops and
  financings. Callers gather the facts; the engine does no I/O, and every rule is O(1) in the
  size of the platform (dict and set lookups over the handful of documents a hop claims).
- A ``Rule`` is named and versioned (``version`` is ``"<name>@<revision>"``, recorded with each
  result so a stored verdict says which logic produced it), carries a one-line
  ``explanation`` and a pure ``check``. Every ``RuleResult`` carries at least one reason in words,
  passes included. ``RuleSet.run`` applies all rules; the overall outcome is the worst one
  (fail > warn > pass).
- Direction of trade. A voucher moves from payer to payee, so on a hop A → B the goods were sold
  by B to A: the invoice's seller is the hop's transferee (``to_party``) and its buyer the
  transferor (``from_party``). An issue by obligor O to tier-1 T is the same shape (seller T,
  buyer O). A financing (holder H → financier F) is not a trade: its ``backing`` is the hop
  through which H received the holding, and the trade rules re-check that hop's trade (seller
  H, buyer the party that paid H) with the invoices and contract the financing claims, which
  must be among those the backing hop claimed.
- Invoice usage keeps two budgets per invoice, each up to the invoice's total with tax: one for
  payments (issues and transfers) and one for financings. A financing is backed by the very
  trade that backed its holding's hop, so it must not consume the payment budget (that would
  fail every legitimate financing); but two payments, or two financings, of the same invoice
  beyond its total are the duplicate-use fraud, and fail naming the earlier uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from tierflow.domain.documents import Contract, DeliveryNote, VatInvoice, invoice_number_is_valid, uscc_problem
from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.domain.money import CURRENCIES, Money


class InvalidFacts(DomainError):
    """The facts handed to the engine are malformed (not a verification failure)."""

    code = "invalid_facts"
    kind = ErrorKind.INVALID


VERIFICATION_ERRORS: tuple[type[DomainError], ...] = (InvalidFacts,)

SME_PAYMENT_DAYS = 60  # 保障中小企业款项支付条例: large enterprises pay SMEs within 60 days


class Outcome(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


_SEVERITY: Mapping[Outcome, int] = MappingProxyType({Outcome.PASS: 0, Outcome.WARN: 1, Outcome.FAIL: 2})


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """FAIL if any fails, else WARN if any warns, else PASS (also for none)."""
    return max(outcomes, key=_SEVERITY.__getitem__, default=Outcome.PASS)


# --------------------------------------------------------------------------- facts


class HopKind(StrEnum):
    ISSUE = "issue"
    TRANSFER = "transfer"
    FINANCING = "financing"


class UsageBudget(StrEnum):
    """Which of an invoice's two budgets a use draws on."""

    PAYMENT = "payment"
    FINANCING = "financing"


def budget_of(kind: HopKind) -> UsageBudget:
    return UsageBudget.FINANCING if kind is HopKind.FINANCING else UsageBudget.PAYMENT


@dataclass(frozen=True, slots=True)
class PartyFacts:
    """A party as the rules see it. ``uscc`` is as registered, not yet validated."""

    id: str
    name: str
    uscc: str
    is_sme: bool


@dataclass(frozen=True, slots=True)
class Hop:
    """One movement to verify: ``from_party`` pays ``to_party`` (or sells to a financier).

    ``maturity`` is the voucher's. A financing names its ``backing``: the issue or transfer
    that brought the financed holding to ``from_party``.
    """

    id: str
    kind: HopKind
    voucher_id: str
    from_party: PartyFacts
    to_party: PartyFacts
    hop_date: date
    maturity: date
    amount_minor: int
    currency: str
    invoice_numbers: tuple[str, ...]
    contract_number: str | None
    delivery_note_numbers: tuple[str, ...] = ()
    backing: Hop | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, HopKind):
            raise InvalidFacts(f"hop kind must be a HopKind; got {self.kind!r}", hop_id=self.id)
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int) or self.amount_minor < 1:
            raise InvalidFacts(f"hop amount must be a positive integer of minor units; got {self.amount_minor!r}")
        if self.currency not in CURRENCIES:
            raise InvalidFacts(f"unknown currency {self.currency!r}", hop_id=self.id)
        if not isinstance(self.invoice_numbers, tuple) or not isinstance(self.delivery_note_numbers, tuple):
            raise InvalidFacts("invoice and delivery note numbers must be tuples", hop_id=self.id)
        if self.from_party.id == self.to_party.id:
            raise InvalidFacts(f"hop {self.id} goes from {self.from_party.id} to itself", hop_id=self.id)
        if (self.kind is HopKind.FINANCING) != (self.backing is not None):
            raise InvalidFacts(
                f"hop {self.id}: a financing, and only a financing, names its backing hop", hop_id=self.id
            )
        if self.backing is not None and self.backing.kind is HopKind.FINANCING:
            raise InvalidFacts(f"hop {self.id}: a financing is backed by an issue or transfer", hop_id=self.id)

    @property
    def money(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def trade(self) -> Hop:
        """The hop whose trade backs this one: itself, or a financing's backing hop."""
        return self.backing if self.backing is not None else self

    @property
    def seller(self) -> PartyFacts:
        """Who sold the goods behind this hop (the payee of the trade)."""
        return self.trade.to_party

    @property
    def buyer(self) -> PartyFacts:
        """Who bought them (the payer of the trade)."""
        return self.trade.from_party


_KIND_INDEX: Mapping[str, int] = MappingProxyType(
    {VatInvoice.DOCUMENT_TYPE: 0, Contract.DOCUMENT_TYPE: 1, DeliveryNote.DOCUMENT_TYPE: 2}
)


@dataclass(frozen=True, slots=True)
class Documents:
    """Trade documents by number. Callers may pass the platform-wide maps or just the hop's."""

    invoices: Mapping[str, VatInvoice] = field(default_factory=dict)
    contracts: Mapping[str, Contract] = field(default_factory=dict)
    delivery_notes: Mapping[str, DeliveryNote] = field(default_factory=dict)

    @classmethod
    def of(cls, *docs: VatInvoice | Contract | DeliveryNote) -> Documents:
        """Index ``docs`` by number; a number given twice for one kind is refused."""
        invoices: dict[str, VatInvoice] = {}
        contracts: dict[str, Contract] = {}
        notes: dict[str, DeliveryNote] = {}
        for doc in docs:
            if doc.number in (invoices, contracts, notes)[_KIND_INDEX[doc.DOCUMENT_TYPE]]:
                raise InvalidFacts(f"{doc.DOCUMENT_TYPE} {doc.number} given twice", number=doc.number)
            if isinstance(doc, VatInvoice):
                invoices[doc.number] = doc
            elif isinstance(doc, Contract):
                contracts[doc.number] = doc
            else:
                notes[doc.number] = doc
        return cls(MappingProxyType(invoices), MappingProxyType(contracts), MappingProxyType(notes))


@dataclass(frozen=True, slots=True)
class ObligorStatus:
    party_id: str
    has_overdue_vouchers: bool


@dataclass(frozen=True, slots=True)
class InvoiceUse:
    """An earlier hop or financing (``use_id``) backed ``amount_minor`` by an invoice."""

    use_id: str
    kind: HopKind
    amount_minor: int

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int) or self.amount_minor < 1:
            raise InvalidFacts(f"invoice use must be a positive integer; got {self.amount_minor!r}")

    @property
    def budget(self) -> UsageBudget:
        return budget_of(self.kind)


@dataclass(frozen=True, slots=True)
class InvoiceUsage:
    """Everything one invoice has backed so far; the per-budget sums are kept, not recomputed."""

    invoice_number: str
    uses: tuple[InvoiceUse, ...] = ()
    payment_minor: int = field(init=False, default=0)
    financing_minor: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not isinstance(self.uses, tuple):
            raise InvalidFacts("invoice uses must be a tuple", invoice_number=self.invoice_number)
        payment = sum(u.amount_minor for u in self.uses if u.budget is UsageBudget.PAYMENT)
        financing = sum(u.amount_minor for u in self.uses if u.budget is UsageBudget.FINANCING)
        object.__setattr__(self, "payment_minor", payment)
        object.__setattr__(self, "financing_minor", financing)

    def used_minor(self, budget: UsageBudget) -> int:
        return self.payment_minor if budget is UsageBudget.PAYMENT else self.financing_minor

    def uses_of(self, budget: UsageBudget) -> tuple[InvoiceUse, ...]:
        return tuple(u for u in self.uses if u.budget is budget)

    def with_use(self, use: InvoiceUse) -> InvoiceUsage:
        """This record plus ``use`` (O(uses of this invoice), independent of the platform size)."""
        return InvoiceUsage(self.invoice_number, (*self.uses, use))


@dataclass(frozen=True, slots=True)
class Facts:
    """What one verification may consult. ``related_parties`` holds frozensets of two party ids."""

    hop: Hop
    documents: Documents
    obligor: ObligorStatus
    related_parties: frozenset[frozenset[str]] = frozenset()
    usage: Mapping[str, InvoiceUsage] = field(default_factory=dict)

    def usage_of(self, invoice_number: str) -> InvoiceUsage:
        found = self.usage.get(invoice_number)
        return found if found is not None else InvoiceUsage(invoice_number)


# --------------------------------------------------------------------------- rules and results


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: str
    version: str
    outcome: Outcome
    reasons: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.reasons:
            raise InvalidFacts(f"rule {self.version} gave no reason")


Finding = tuple[Outcome, list[str]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named, versioned, explained check. ``assess`` returns the outcome and its reasons."""

    name: str
    revision: int
    explanation: str
    assess: Callable[[Facts], Finding]

    @property
    def version(self) -> str:
        return f"{self.name}@{self.revision}"

    def check(self, facts: Facts) -> RuleResult:
        outcome, reasons = self.assess(facts)
        return RuleResult(self.name, self.version, outcome, tuple(reasons))


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    results: tuple[RuleResult, ...]

    def result(self, rule: str) -> RuleResult:
        for r in self.results:
            if r.rule == rule:
                return r
        raise KeyError(rule)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.outcome is Outcome.FAIL)

    @property
    def warnings(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.outcome is Outcome.WARN)


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise InvalidFacts(f"rule names must be unique; got {names}")

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(r.version for r in self.rules)

    def run(self, facts: Facts) -> Verdict:
        results = tuple(rule.check(facts) for rule in self.rules)
        return Verdict(worst(r.outcome for r in results), results)


# --------------------------------------------------------------------------- helpers


def _finding(fails: list[str], warns: list[str], ok: str) -> Finding:
    if fails:
        return Outcome.FAIL, fails + warns
    if warns:
        return Outcome.WARN, warns
    return Outcome.PASS, [ok]


def _claimed_invoices(hop: Hop) -> tuple[str, ...]:
    return tuple(dict.fromkeys(hop.invoice_numbers))  # order kept, duplicates dropped


def _supplied_invoices(facts: Facts) -> list[VatInvoice]:
    found = (facts.documents.invoices.get(n) for n in _claimed_invoices(facts.hop))
    return [inv for inv in found if inv is not None]


def _day(d: date) -> str:
    return d.isoformat()


# --------------------------------------------------------------------------- the rules


def _uscc_check_digits(facts: Facts) -> Finding:
    fails: list[str] = []
    # The trading parties: for a financing, those of the trade behind it (an institution issues no invoices).
    trade = facts.hop.trade
    for role, party in (("transferor", trade.from_party), ("transferee", trade.to_party)):
        if not party.uscc:
            fails.append(f"{role} {party.name} ({party.id}) has no USCC on record (no registered invoice names it)")
            continue
        problem = uscc_problem(party.uscc)
        if problem is not None:
            fails.append(f"{role} {party.name} ({party.id})'s registered USCC is invalid: {problem}")
    # Invoices validate their codes on construction; re-checked so that one stored under a laxer
    # release of this module is still caught.
    for inv in _supplied_invoices(facts):
        for side, code in (("seller", inv.seller_uscc), ("buyer", inv.buyer_uscc)):
            problem = uscc_problem(code)
            if problem is not None:
                fails.append(f"invoice {inv.number}: {side} USCC is invalid: {problem}")
    return _finding(fails, [], "the parties' and invoices' USCCs pass GB 32100 check characters")


def _invoice_format(facts: Facts) -> Finding:
    fails: list[str] = []
    warns: list[str] = []
    hop = facts.hop
    if not hop.invoice_numbers:
        fails.append(f"{hop.kind} {hop.id} claims no invoice")
    if len(set(hop.invoice_numbers)) != len(hop.invoice_numbers):
        fails.append(f"{hop.kind} {hop.id} claims the same invoice more than once")
    for number in _claimed_invoices(hop):
        if not invoice_number_is_valid(number):
            fails.append(f"invoice number {number!r} is not 20 digits")
            continue
        inv = facts.documents.invoices.get(number)
        if inv is None:
            fails.append(f"invoice {number} is claimed but not supplied")
        elif number[:2] != f"{inv.issued_on.year % 100:02d}":
            # Digits 1-2 of a fully digital e-invoice number are the year of issue.
            warns.append(f"invoice {number} starts with year {number[:2]} but was issued on {_day(inv.issued_on)}")
    return _finding(fails, warns, "every claimed invoice is supplied and well-formed")


def _invoice_parties(facts: Facts) -> Finding:
    fails: list[str] = []
    hop = facts.hop
    seller, buyer = hop.seller, hop.buyer
    for inv in _supplied_invoices(facts):
        if inv.seller_uscc != seller.uscc:
            fails.append(
                f"invoice {inv.number} was issued by {inv.seller_name} ({inv.seller_uscc}), "
                f"not by the seller {seller.name} ({seller.uscc})"
            )
        if inv.buyer_uscc != buyer.uscc:
            fails.append(
                f"invoice {inv.number} was issued to {inv.buyer_name} ({inv.buyer_uscc}), "
                f"not to the buyer {buyer.name} ({buyer.uscc})"
            )
    return _finding(fails, [], f"the invoices are from the seller {seller.name} to the buyer {buyer.name}")


def _invoice_date(facts: Facts) -> Finding:
    fails: list[str] = []
    trade = facts.hop.trade
    for inv in _supplied_invoices(facts):
        if inv.issued_on > trade.hop_date:
            fails.append(
                f"invoice {inv.number} is dated {_day(inv.issued_on)}, after the {trade.kind} "
                f"{trade.id} on {_day(trade.hop_date)}"
            )
    return _finding(fails, [], f"the invoices are dated no later than the {trade.kind} on {_day(trade.hop_date)}")


def _contract_in_force(facts: Facts) -> Finding:
    hop = facts.hop
    trade = hop.trade
    if hop.contract_number is None:
        return Outcome.FAIL, [f"{hop.kind} {hop.id} claims no contract"]
    contract = facts.documents.contracts.get(hop.contract_number)
    if contract is None:
        return Outcome.FAIL, [f"contract {hop.contract_number} is claimed but not supplied"]
    fails: list[str] = []
    if not contract.in_force_on(trade.hop_date):
        fails.append(
            f"contract {contract.number} is in force {_day(contract.effective_from)} to "
            f"{_day(contract.effective_until)}, not on {_day(trade.hop_date)}"
        )
    if (contract.seller, contract.buyer) != (hop.seller.id, hop.buyer.id):
        fails.append(
            f"contract {contract.number} is a sale by {contract.seller} to {contract.buyer}, "
            f"not by {hop.seller.id} to {hop.buyer.id}"
        )
    return _finding(fails, [], f"contract {contract.number} is in force between the parties on {_day(trade.hop_date)}")


def _delivery_notes(facts: Facts) -> Finding:
    hop = facts.hop
    fails: list[str] = []
    for number in dict.fromkeys(hop.delivery_note_numbers):
        note = facts.documents.delivery_notes.get(number)
        if note is None:
            fails.append(f"delivery note {number} is claimed but not supplied")
            continue
        if note.contract_number != hop.contract_number:
            fails.append(f"delivery note {number} is under contract {note.contract_number}, not {hop.contract_number}")
        if (note.seller, note.buyer) != (hop.seller.id, hop.buyer.id):
            fails.append(
                f"delivery note {number} records a delivery by {note.seller} to {note.buyer}, "
                f"not by {hop.seller.id} to {hop.buyer.id}"
            )
    if not hop.delivery_note_numbers:
        return Outcome.PASS, ["no delivery note is claimed"]
    return _finding(fails, [], "the delivery notes match the contract and the parties")


@dataclass(frozen=True, slots=True)
class InvoiceAllocation:
    """How much of ``amount_minor`` a hop draws on ``invoice_number`` (what callers record)."""

    invoice_number: str
    amount_minor: int


def allocate_invoice_usage(facts: Facts) -> tuple[tuple[InvoiceAllocation, ...], int]:
    """Draw the hop's amount on its supplied invoices' remaining budget, in claimed order.

    Returns the allocations and the shortfall (0 when the invoices cover the hop). A caller that
    accepts the hop records each allocation as an ``InvoiceUse`` of the hop's id and kind.
    """
    hop = facts.hop
    budget = budget_of(hop.kind)
    left = hop.amount_minor
    parts: list[InvoiceAllocation] = []
    for inv in _supplied_invoices(facts):
        if left == 0:
            break
        if inv.currency != hop.currency:
            continue
        free = inv.total_minor - facts.usage_of(inv.number).used_minor(budget)
        take = min(free, left)
        if take > 0:
            parts.append(InvoiceAllocation(inv.number, take))
            left -= take
    return tuple(parts), left


def _invoice_usage(facts: Facts) -> Finding:
    hop = facts.hop
    budget = budget_of(hop.kind)
    invoices = _supplied_invoices(facts)
    if not invoices:
        return Outcome.FAIL, ["no supplied invoice backs this hop"]
    fails: list[str] = []
    for inv in invoices:
        if inv.currency != hop.currency:
            fails.append(f"invoice {inv.number} is in {inv.currency}; it cannot back {hop.money}")
    _, shortfall = allocate_invoice_usage(facts)
    if shortfall > 0:
        fails.append(f"the invoices cannot back {hop.money}: {Money(shortfall, hop.currency)} is uncovered")
        for inv in invoices:
            record = facts.usage_of(inv.number)
            earlier = record.uses_of(budget)
            if earlier:
                listed = ", ".join(f"{u.kind} {u.use_id} ({Money(u.amount_minor, hop.currency)})" for u in earlier)
                fails.append(
                    f"invoice {inv.number} (total {Money(inv.total_minor, inv.currency)}) already backs "
                    f"{Money(record.used_minor(budget), inv.currency)} of {budget}s: {listed}"
                )
    return _finding(fails, [], f"the invoices' unused {budget} totals cover {hop.money}")


def _obligor_standing(facts: Facts) -> Finding:
    if facts.obligor.has_overdue_vouchers:
        return Outcome.FAIL, [f"obligor {facts.obligor.party_id} has overdue vouchers"]
    return Outcome.PASS, [f"obligor {facts.obligor.party_id} has no overdue vouchers"]


def _related_parties(facts: Facts) -> Finding:
    hop = facts.hop
    if frozenset((hop.from_party.id, hop.to_party.id)) in facts.related_parties:
        return Outcome.WARN, [f"{hop.from_party.name} and {hop.to_party.name} are related parties"]
    return Outcome.PASS, [f"{hop.from_party.name} and {hop.to_party.name} are not known to be related"]


def _tenor_vs_terms(facts: Facts) -> Finding:
    hop = facts.hop
    trade = hop.trade
    contract = facts.documents.contracts.get(hop.contract_number) if hop.contract_number is not None else None
    if contract is None:
        return Outcome.PASS, ["not assessed: no contract supplied (see contract-in-force)"]
    tenor = (trade.maturity - trade.hop_date).days
    if tenor > contract.payment_terms_days:
        return Outcome.WARN, [
            f"the voucher matures {tenor} days after the {trade.kind} on {_day(trade.hop_date)}, beyond "
            f"contract {contract.number}'s payment terms of {contract.payment_terms_days} days"
        ]
    return Outcome.PASS, [
        f"the voucher matures {tenor} days after the {trade.kind}, within "
        f"{contract.payment_terms_days} days' payment terms"
    ]


def _sme_sixty_days(facts: Facts) -> Finding:
    hop = facts.hop
    trade = hop.trade
    seller, buyer = hop.seller, hop.buyer
    if not seller.is_sme or buyer.is_sme:
        return Outcome.PASS, [f"not a large enterprise paying an SME ({buyer.name} pays {seller.name})"]
    # The clock starts at delivery/acceptance; with several deliveries the earliest is the binding
    # one. Without a supplied delivery note the invoice date stands in for it.
    notes = [n for n in map(facts.documents.delivery_notes.get, hop.delivery_note_numbers) if n is not None]
    if notes:
        start, basis = min(n.delivered_on for n in notes), "delivery"
    else:
        invoices = _supplied_invoices(facts)
        if not invoices:
            return Outcome.PASS, ["not assessed: no delivery note or invoice dates the delivery"]
        start, basis = min(i.issued_on for i in invoices), "invoice"
    days = (trade.maturity - start).days
    if days > SME_PAYMENT_DAYS:
        return Outcome.WARN, [
            f"SME {seller.name} is paid by a voucher maturing {_day(trade.maturity)}, {days} days after "
            f"the {basis} on {_day(start)}; large enterprises must pay SMEs within {SME_PAYMENT_DAYS} days"
        ]
    return Outcome.PASS, [
        f"SME {seller.name} is paid {days} days after the {basis} on {_day(start)}, within {SME_PAYMENT_DAYS} days"
    ]


def _financing_backing(facts: Facts) -> Finding:
    hop = facts.hop
    backing = hop.backing
    if backing is None:
        return Outcome.PASS, [f"not a financing ({hop.kind})"]
    fails: list[str] = []
    if backing.to_party.id != hop.from_party.id:
        fails.append(
            f"{backing.kind} {backing.id} brought the holding to {backing.to_party.id}, not {hop.from_party.id}"
        )
    if backing.voucher_id != hop.voucher_id:
        fails.append(f"{backing.kind} {backing.id} moved voucher {backing.voucher_id}, not {hop.voucher_id}")
    if backing.hop_date > hop.hop_date:
        fails.append(f"{backing.kind} {backing.id} on {_day(backing.hop_date)} is after the financing")
    if hop.amount_minor > backing.amount_minor:
        fails.append(f"financing {hop.money} exceeds the {backing.kind} of {backing.money}")
    claimed = set(backing.invoice_numbers)
    for number in _claimed_invoices(hop):
        if number not in claimed:
            fails.append(f"invoice {number} did not back {backing.kind} {backing.id}")
    if hop.contract_number != backing.contract_number:
        fails.append(f"contract {hop.contract_number} is not the one behind {backing.kind} {backing.id}")
    return _finding(fails, [], f"financing is backed by {backing.kind} {backing.id} to {hop.from_party.name}")


USCC_CHECK_DIGIT = Rule(
    "uscc-check-digit", 2, "The parties' and invoices' USCCs must pass GB 32100-2015.", _uscc_check_digits
)
INVOICE_FORMAT = Rule(
    "invoice-format", 1, "Each claimed invoice must be a supplied 20-digit e-invoice of its year.", _invoice_format
)
INVOICE_PARTIES = Rule(
    "invoice-parties", 1, "Each invoice must be issued by the hop's seller to its buyer.", _invoice_parties
)
INVOICE_DATE = Rule("invoice-date", 1, "No invoice may be dated after the trade it backs.", _invoice_date)
CONTRACT_IN_FORCE = Rule(
    "contract-in-force", 1, "The contract must be in force on the trade date, between its parties.", _contract_in_force
)
DELIVERY_NOTES = Rule(
    "delivery-notes", 1, "Claimed delivery notes must exist, under the contract, between the parties.", _delivery_notes
)
INVOICE_USAGE = Rule(
    "invoice-usage",
    1,
    "Across the platform an invoice backs at most its total in payments and at most its total in financings.",
    _invoice_usage,
)
OBLIGOR_STANDING = Rule("obligor-standing", 1, "The obligor must have no overdue vouchers.", _obligor_standing)
RELATED_PARTIES = Rule("related-parties", 1, "Hops between related parties are flagged for review.", _related_parties)
TENOR_VS_TERMS = Rule(
    "tenor-vs-terms", 1, "The voucher should mature within the contract's payment terms.", _tenor_vs_terms
)
SME_SIXTY_DAYS = Rule(
    "sme-sixty-days", 1, "A large enterprise should pay an SME within 60 days of delivery.", _sme_sixty_days
)
FINANCING_BACKING = Rule(
    "financing-backing",
    1,
    "A financing must rest on the hop that brought the holding to the applicant, and its documents.",
    _financing_backing,
)

DEFAULT_RULES: tuple[Rule, ...] = (
    USCC_CHECK_DIGIT,
    INVOICE_FORMAT,
    INVOICE_PARTIES,
    INVOICE_DATE,
    CONTRACT_IN_FORCE,
    DELIVERY_NOTES,
    INVOICE_USAGE,
    OBLIGOR_STANDING,
    RELATED_PARTIES,
    TENOR_VS_TERMS,
    SME_SIXTY_DAYS,
    FINANCING_BACKING,
)

DEFAULT_RULESET = RuleSet(DEFAULT_RULES)


def verify(facts: Facts, rules: RuleSet = DEFAULT_RULESET) -> Verdict:
    """Run ``rules`` (the default set unless given) over ``facts``."""
    return rules.run(facts)
