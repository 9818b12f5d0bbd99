"""Asset package review: re-check the trade background of a whole package of vouchers against today's state.

A bank or a securitisation pool taking a package of receivables re-verifies every hop behind it at once: each
voucher's issue, each accepted transfer and each financing that has a case. The verdicts are not stored; the
result is a ``PackageReport`` (counts by outcome and by rule, the failing hops with their reasons).

Design overview
---------------

- Same facts as the command path (``tierflow.services.trade_checks``): a hop is built from the same columns,
  a party's facts are its name, the one USCC registered invoices tie to it ("" when none or several) and
  "SME" for suppliers; a financing's backing is found by walking the financed holding's parents up to the
  accepted offer (or the issue) that brought the units to the applicant; the financing claims the invoices and
  contract its request named, else its backing hop's. Then ``verify`` runs with the default rules.
- Bulk, not per hop. The package is read in chunks of ``chunk`` vouchers; each chunk costs a fixed handful of
  statements (vouchers, accepted transfers, financings with cases, holdings of the financed vouchers, claimed
  documents, invoice uses, and parties, USCCs and obligor standing for parties not seen before), whatever the
  number of hops in it. The reads go through the ``AssetReads`` protocol (``tierflow.store.asset_reads``
  implements it over one read-only snapshot); this module does no I/O of its own.
- Little churn per hop. One ``Documents`` holds the chunk's documents (the engine only looks up the numbers a
  hop claims, so chunk-wide maps give the same verdict as per-hop ones); party facts and obligor standing are
  built once per party; a financing's backing is the very ``Hop`` built for its issue or transfer.
- Invoice usage. Each hop is judged against the recorded (unreleased) uses of its invoices by every *other* hop
  or financing: its own use is left out, which is how its original check saw the invoice (its use was recorded
  after the check). Unlike the original check, uses recorded later by other hops count too; since a later hop
  only ever drew what was still free, a legitimate earlier hop still passes, and the hop that over-drew an
  invoice is the one that fails.
- Read-only: nothing is stored, no usage is drawn; running it twice on the same state gives the same report.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, Protocol

from tierflow.domain.documents import Contract, DeliveryNote, InvalidDocument, VatInvoice
from tierflow.domain.model import Role
from tierflow.domain.verification import (
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
    RuleSet,
    Verdict,
)
from tierflow.services.documents import build_document
from tierflow.services.ports import InvoiceUseRecord

MAX_BACKING_WALK = 10_000  # parents followed before giving up, as in trade_checks
NO_BACKING = "financing-backing@unresolved"  # a financing whose units no recorded hop brought to the applicant
INVALID_FACTS = "facts@invalid"  # a hop the engine refuses to take (e.g. a party paying itself)

# --------------------------------------------------------------------------- what the reads return


class VoucherLine(NamedTuple):
    id: str
    obligor_id: str
    first_holder_id: str
    currency: str
    face_minor: int
    issue_date: date
    maturity: date
    contract_ref: str
    invoice_refs: tuple[str, ...]


class TransferLine(NamedTuple):
    """An accepted offer; ``created_on`` is the date of the journal entry that made the offer."""

    id: str
    voucher_id: str
    holding_id: str
    sender_id: str
    recipient_id: str
    units: int
    trade_ref: str
    invoice_refs: tuple[str, ...]
    created_on: date


class FinancingLine(NamedTuple):
    """A financing with a case. ``invoice_refs``/``contract_ref`` are what the request named (None when it named
    none, so that the backing hop's count); ``value_date`` is the day it was requested and checked."""

    id: str
    voucher_id: str
    holding_id: str
    applicant_id: str
    financier_id: str
    amount_minor: int
    currency: str
    value_date: date
    stage: str
    invoice_refs: tuple[str, ...] | None
    contract_ref: str | None


class HoldingLink(NamedTuple):
    id: str
    parent_id: str | None
    holder_id: str
    tier: int


class PartyLine(NamedTuple):
    id: str
    name: str
    role: str


class DocumentLine(NamedTuple):
    """A registered document: ``fields`` is its stored wire form (JSON text)."""

    type: str
    number: str
    fields: str


class AssetReads(Protocol):
    """The bulk reads a package review needs; each call is one statement (or a few for very long lists)."""

    def voucher_ids(self) -> list[str]:
        """Every voucher on the platform, by id."""
        ...

    def vouchers(self, ids: Sequence[str]) -> list[VoucherLine]: ...

    def accepted_transfers(self, voucher_ids: Sequence[str]) -> list[TransferLine]: ...

    def financings_with_cases(self, voucher_ids: Sequence[str]) -> list[FinancingLine]: ...

    def holding_links(self, voucher_ids: Sequence[str]) -> list[HoldingLink]:
        """Every holding of these vouchers, superseded ones included (the lineage)."""
        ...

    def parties(self, ids: Sequence[str]) -> list[PartyLine]: ...

    def party_usccs(self, ids: Sequence[str]) -> list[tuple[str, str]]:
        """(party id, USCC) pairs that registered invoices tie to these parties, as sellers or buyers."""
        ...

    def documents(self, wanted: Mapping[str, Sequence[str]]) -> list[DocumentLine]:
        """Registered documents by type and number (``{"vat_invoice": [...], "contract": [...]}``)."""
        ...

    def invoice_uses(self, numbers: Sequence[str]) -> list[InvoiceUseRecord]:
        """Unreleased uses of these invoices, in the order they were recorded."""
        ...

    def overdue_obligors(self, ids: Sequence[str], today: date) -> Collection[str]:
        """Those of ``ids`` with an overdue voucher (or an active one past maturity on ``today``)."""
        ...


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True)
class RuleFailure:
    version: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FailedHop:
    kind: str
    id: str
    voucher_id: str
    failures: tuple[RuleFailure, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "voucher_id": self.voucher_id,
            "failures": [{"rule": f.version, "reasons": list(f.reasons)} for f in self.failures],
        }


@dataclass(slots=True)
class PackageReport:
    """What a review found. ``outcomes`` (hop id → outcome, every hop) is kept for callers and not put in
    ``as_json``, which carries the counts and the failing hops."""

    today: date
    vouchers: int = 0
    missing_vouchers: list[str] = field(default_factory=list)
    hops: Counter[str] = field(default_factory=Counter)  # by kind
    by_outcome: Counter[str] = field(default_factory=Counter)
    rule_fails: Counter[str] = field(default_factory=Counter)  # by rule version
    rule_warns: Counter[str] = field(default_factory=Counter)
    failed: list[FailedHop] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    unreadable_documents: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def hop_count(self) -> int:
        return sum(self.hops.values())

    def as_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (counts sorted by name, failing hops in review order)."""
        return {
            "today": self.today.isoformat(),
            "vouchers": self.vouchers,
            "missing_vouchers": list(self.missing_vouchers),
            "hops": self.hop_count,
            "hops_by_kind": dict(sorted(self.hops.items())),
            "outcomes": {o.value: self.by_outcome.get(o.value, 0) for o in Outcome},
            "rule_fails": dict(sorted(self.rule_fails.items())),
            "rule_warns": dict(sorted(self.rule_warns.items())),
            "failed": [f.as_json() for f in self.failed],
            "unreadable_documents": list(self.unreadable_documents),
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------------- the review


_NO_USAGE: Mapping[str, InvoiceUsage] = {}


class _Parties:
    """Party facts and obligor standing, read once per party for the whole review."""

    def __init__(self, reads: AssetReads, today: date) -> None:
        self._reads = reads
        self._today = today
        self.facts: dict[str, PartyFacts | None] = {}
        self.obligors: dict[str, ObligorStatus] = {}

    def load(self, party_ids: Iterable[str], obligor_ids: Iterable[str]) -> None:
        new = sorted(set(party_ids) - self.facts.keys())
        if new:
            usccs: dict[str, set[str]] = {}
            for party_id, uscc in self._reads.party_usccs(new):
                usccs.setdefault(party_id, set()).add(uscc)
            for p in self._reads.parties(new):
                found = usccs.get(p.id, ())
                self.facts[p.id] = PartyFacts(
                    id=p.id,
                    name=p.name,
                    uscc=next(iter(found)) if len(found) == 1 else "",
                    is_sme=p.role == Role.SUPPLIER.value,
                )
            for party_id in new:
                self.facts.setdefault(party_id, None)
        unseen = sorted(set(obligor_ids) - self.obligors.keys())
        if unseen:
            overdue = set(self._reads.overdue_obligors(unseen, self._today))
            for obligor_id in unseen:
                self.obligors[obligor_id] = ObligorStatus(obligor_id, obligor_id in overdue)

    def get(self, party_id: str) -> PartyFacts:
        found = self.facts.get(party_id)
        if found is None:
            raise InvalidFacts(f"party {party_id} is not registered", party=party_id)
        return found


def _documents(reads: AssetReads, hops: Iterable[Hop], report: PackageReport) -> Documents:
    invoice_numbers: set[str] = set()
    contract_numbers: set[str] = set()
    for hop in hops:
        invoice_numbers.update(hop.invoice_numbers)
        if hop.contract_number is not None:
            contract_numbers.add(hop.contract_number)
    invoices: dict[str, VatInvoice] = {}
    contracts: dict[str, Contract] = {}
    notes: dict[str, DeliveryNote] = {}
    wanted = {VatInvoice.DOCUMENT_TYPE: sorted(invoice_numbers), Contract.DOCUMENT_TYPE: sorted(contract_numbers)}
    for line in reads.documents({k: v for k, v in wanted.items() if v}):
        try:
            doc = build_document(line.type, json.loads(line.fields))
        except (InvalidDocument, ValueError):
            report.unreadable_documents.append(f"{line.type} {line.number}")
            continue  # the rules then report it as claimed but not supplied
        if isinstance(doc, VatInvoice):
            invoices[doc.number] = doc
        elif isinstance(doc, Contract):
            contracts[doc.number] = doc
        else:
            notes[doc.number] = doc
    return Documents(invoices, contracts, notes)


class _Usage:
    """The chunk's invoice uses; ``without(hop)`` is the usage of the hop's invoices by all other hops."""

    def __init__(self, records: Iterable[InvoiceUseRecord]) -> None:
        self.by_invoice: dict[str, list[InvoiceUse]] = {}
        for r in records:
            use = InvoiceUse(r.use_id, HopKind(r.kind), r.amount_minor)
            self.by_invoice.setdefault(r.invoice_number, []).append(use)

    def without(self, hop: Hop) -> Mapping[str, InvoiceUsage]:
        usage: dict[str, InvoiceUsage] | None = None
        for number in hop.invoice_numbers:
            uses = self.by_invoice.get(number)
            if not uses:
                continue
            others = tuple(u for u in uses if u.use_id != hop.id)
            if others:
                if usage is None:
                    usage = {}
                usage[number] = InvoiceUsage(number, others)
        return _NO_USAGE if usage is None else usage


def _backing(
    start: str,
    applicant: str,
    voucher: VoucherLine,
    links: Mapping[str, HoldingLink],
    accepted: Mapping[str, Hop],
    issue: Hop | None,
) -> Hop | None:
    """``trade_checks.backing_hop`` over preloaded lineage: the issue or accepted transfer that brought the units
    of holding ``start`` to ``applicant``. ``accepted`` maps an accepted offer's holding id to its hop."""
    current = links.get(start)
    for _ in range(MAX_BACKING_WALK):
        if current is None:
            return None
        offer = accepted.get(current.id)
        if offer is not None and offer.to_party.id == applicant:
            return offer
        if current.parent_id is None:
            if current.tier != 1 or applicant != voucher.first_holder_id:
                return None
            return issue
        current = links.get(current.parent_id)
    return None


class _Review:
    def __init__(self, reads: AssetReads, today: date, rules: RuleSet, report: PackageReport) -> None:
        self.reads = reads
        self.today = today
        self.rules = rules
        self.report = report
        self.parties = _Parties(reads, today)

    def chunk(self, voucher_ids: Sequence[str]) -> set[str]:
        """Review the hops of these vouchers; returns the ids found."""
        reads = self.reads
        vouchers = {v.id: v for v in reads.vouchers(voucher_ids)}
        transfers = reads.accepted_transfers(list(vouchers)) if vouchers else []
        financings = reads.financings_with_cases(list(vouchers)) if vouchers else []
        financed = sorted({f.voucher_id for f in financings})
        links = {h.id: h for h in reads.holding_links(financed)} if financed else {}

        party_ids: set[str] = set()
        for v in vouchers.values():
            party_ids.update((v.obligor_id, v.first_holder_id))
        for t in transfers:
            party_ids.update((t.sender_id, t.recipient_id))
        for f in financings:
            party_ids.update((f.applicant_id, f.financier_id))
        self.parties.load(party_ids, {v.obligor_id for v in vouchers.values()})

        # (hop, obligor id) in review order: per voucher, its issue, transfers and financings.
        hops: list[tuple[Hop, str]] = []
        issues: dict[str, Hop] = {}
        accepted: dict[str, Hop] = {}  # by the offer's holding id
        for v in vouchers.values():
            try:
                hop = self._issue(v)
            except InvalidFacts as error:
                self._fail(HopKind.ISSUE.value, v.id, v.id, INVALID_FACTS, (error.message,))
                continue
            issues[v.id] = hop
            hops.append((hop, v.obligor_id))
        for t in transfers:
            v = vouchers[t.voucher_id]
            try:
                hop = self._transfer(t, v)
            except InvalidFacts as error:
                self._fail(HopKind.TRANSFER.value, t.id, v.id, INVALID_FACTS, (error.message,))
                continue
            accepted[t.holding_id] = hop
            hops.append((hop, v.obligor_id))
        for f in financings:
            v = vouchers[f.voucher_id]
            backing = _backing(f.holding_id, f.applicant_id, v, links, accepted, issues.get(v.id))
            try:
                if backing is None:
                    raise InvalidFacts(
                        f"no issue or accepted transfer on the platform brought holding {f.holding_id}'s units "
                        f"to {f.applicant_id}, so the trade behind the financing cannot be checked"
                    )
                hop = self._financing(f, v, backing)
            except InvalidFacts as error:
                version = NO_BACKING if backing is None else INVALID_FACTS
                self._fail(HopKind.FINANCING.value, f.id, v.id, version, (error.message,))
                continue
            hops.append((hop, v.obligor_id))

        documents = _documents(reads, (h for h, _ in hops), self.report)
        usage = _Usage(reads.invoice_uses(sorted({n for h, _ in hops for n in h.invoice_numbers})))
        obligors = self.parties.obligors
        for hop, obligor_id in hops:
            facts = Facts(hop=hop, documents=documents, obligor=obligors[obligor_id], usage=usage.without(hop))
            self._record(hop, self.rules.run(facts))
        return set(vouchers)

    def _issue(self, v: VoucherLine) -> Hop:
        return Hop(
            id=v.id,
            kind=HopKind.ISSUE,
            voucher_id=v.id,
            from_party=self.parties.get(v.obligor_id),
            to_party=self.parties.get(v.first_holder_id),
            hop_date=v.issue_date,
            maturity=v.maturity,
            amount_minor=v.face_minor,
            currency=v.currency,
            invoice_numbers=v.invoice_refs,
            contract_number=v.contract_ref,
        )

    def _transfer(self, t: TransferLine, v: VoucherLine) -> Hop:
        return Hop(
            id=t.id,
            kind=HopKind.TRANSFER,
            voucher_id=v.id,
            from_party=self.parties.get(t.sender_id),
            to_party=self.parties.get(t.recipient_id),
            hop_date=t.created_on,
            maturity=v.maturity,
            amount_minor=t.units,
            currency=v.currency,
            invoice_numbers=t.invoice_refs,
            contract_number=t.trade_ref,
        )

    def _financing(self, f: FinancingLine, v: VoucherLine, backing: Hop) -> Hop:
        return Hop(
            id=f.id,
            kind=HopKind.FINANCING,
            voucher_id=v.id,
            from_party=self.parties.get(f.applicant_id),
            to_party=self.parties.get(f.financier_id),
            hop_date=f.value_date,
            maturity=v.maturity,
            amount_minor=f.amount_minor,
            currency=f.currency,
            invoice_numbers=f.invoice_refs if f.invoice_refs is not None else backing.invoice_numbers,
            contract_number=f.contract_ref if f.contract_ref is not None else backing.contract_number,
            backing=backing,
        )

    def _record(self, hop: Hop, verdict: Verdict) -> None:
        report = self.report
        report.hops[hop.kind.value] += 1
        report.by_outcome[verdict.outcome.value] += 1
        report.outcomes[hop.id] = verdict.outcome
        if verdict.outcome is Outcome.PASS:
            return
        failures: list[RuleFailure] = []
        for r in verdict.results:
            if r.outcome is Outcome.FAIL:
                report.rule_fails[r.version] += 1
                failures.append(RuleFailure(r.version, r.reasons))
            elif r.outcome is Outcome.WARN:
                report.rule_warns[r.version] += 1
        if failures:
            report.failed.append(FailedHop(hop.kind.value, hop.id, hop.voucher_id, tuple(failures)))

    def _fail(self, kind: str, hop_id: str, voucher_id: str, version: str, reasons: tuple[str, ...]) -> None:
        report = self.report
        report.hops[kind] += 1
        report.by_outcome[Outcome.FAIL.value] += 1
        report.outcomes[hop_id] = Outcome.FAIL
        report.rule_fails[version] += 1
        report.failed.append(FailedHop(kind, hop_id, voucher_id, (RuleFailure(version, reasons),)))


def review_package(
    reads: AssetReads,
    voucher_ids: Sequence[str] | None = None,
    *,
    today: date,
    chunk: int = 2000,
    progress: Callable[[int, int], None] | None = None,
    rules: RuleSet = DEFAULT_RULESET,
) -> PackageReport:
    """Re-verify every hop of ``voucher_ids`` (every voucher when None) with the current platform state.

    ``reads`` is the store's read model, ideally over one snapshot (``tierflow.store.asset_reads.asset_reads``).
    Vouchers are reviewed ``chunk`` at a time, each chunk with a fixed number of statements; ``progress`` is
    called after each chunk with (vouchers reviewed, vouchers in the package). Ids not on the platform are listed
    in ``missing_vouchers``. Stores nothing.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be positive; got {chunk}")
    started = time.perf_counter()
    report = PackageReport(today=today)
    ids = reads.voucher_ids() if voucher_ids is None else list(dict.fromkeys(voucher_ids))
    review = _Review(reads, today, rules, report)
    found: set[str] = set()
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        seen = review.chunk(part)
        found |= seen
        report.missing_vouchers.extend(v for v in part if v not in seen)
        if progress is not None:
            progress(min(start + chunk, len(ids)), len(ids))
    report.vouchers = len(found)
    report.seconds = time.perf_counter() - started
    return report
