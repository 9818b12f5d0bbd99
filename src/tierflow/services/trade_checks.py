"""Trade-background checks inside the ledger: gather the facts of a hop from storage, run the rule engine,
store the verdict and the invoice usage it draws.

The rule engine (``tierflow.domain.verification``) is pure; this module is its storage side. It runs inside
the command handler's transaction, so the verdict, the invoice usage and the hop itself commit or roll back
together, and a replay of the journal recomputes the same verdict from the same state.

- Documents are found by the numbers the hop claims: ``invoice_refs`` name registered VAT e-invoices,
  ``contract_ref`` (a transfer's ``trade_ref``) a registered contract.
- A party's USCC is the one registered invoices tie to it (``document.register`` keeps that pairing unique).
  Suppliers are taken to be SMEs and core enterprises and institutions not, for the 60-day warning; the
  related-party register is empty until parties' ownership is recorded.
- A financing's backing hop is found by walking the financed holding's parents up to the accepted offer (or
  the issue) that brought the units to the applicant.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from tierflow.domain.documents import Contract, DeliveryNote, VatInvoice
from tierflow.domain.model import Holding, Party, Role, Voucher
from tierflow.domain.verification import (
    Documents,
    Facts,
    Hop,
    HopKind,
    InvoiceUsage,
    InvoiceUse,
    ObligorStatus,
    Outcome,
    PartyFacts,
    Verdict,
    allocate_invoice_usage,
    verify,
)
from tierflow.services.documents import build_document
from tierflow.services.errors import TradeCheckFailed
from tierflow.services.ports import InvoiceUseRecord, Repository, VerificationRecord

MAX_BACKING_WALK = 10_000  # parents followed before giving up (a holding's lineage is far shorter)


@dataclass(frozen=True, slots=True)
class Checked:
    """A verdict, stored, and the invoice usage to record if the hop goes ahead."""

    verdict: Verdict
    record: VerificationRecord
    uses: tuple[InvoiceUseRecord, ...]

    @property
    def failed(self) -> bool:
        return self.verdict.outcome is Outcome.FAIL

    def summary(self) -> dict[str, Any]:
        """What the journal entry's effects carry: the verdict id, outcome, rule versions and document hashes."""
        return {
            "verification_id": self.record.id,
            "outcome": self.verdict.outcome.value,
            "failed_rules": [r.version for r in self.verdict.failures],
            "warned_rules": [r.version for r in self.verdict.warnings],
            "documents": json.loads(self.record.documents),
        }


def party_facts(repo: Repository, party: Party) -> PartyFacts:
    return parties_facts(repo, party)[0]


def parties_facts(repo: Repository, *parties: Party) -> list[PartyFacts]:
    """The rules' view of ``parties``, their USCCs read in one lookup."""
    usccs = dict(repo.party_usccs([p.id for p in parties]))
    return [PartyFacts(id=p.id, name=p.name, uscc=usccs.get(p.id, ""), is_sme=p.role is Role.SUPPLIER) for p in parties]


def _documents(repo: Repository, hops: Sequence[Hop]) -> tuple[Documents, list[dict[str, str]]]:
    invoices: dict[str, VatInvoice] = {}
    contracts: dict[str, Contract] = {}
    notes: dict[str, DeliveryNote] = {}
    claimed: list[dict[str, str]] = []
    wanted = {
        VatInvoice.DOCUMENT_TYPE: sorted({n for h in hops for n in h.invoice_numbers}),
        Contract.DOCUMENT_TYPE: sorted({h.contract_number for h in hops if h.contract_number is not None}),
        DeliveryNote.DOCUMENT_TYPE: sorted({n for h in hops for n in h.delivery_note_numbers}),
    }
    for doc_type, numbers in wanted.items():
        for rec in repo.documents_by_number(doc_type, numbers):
            doc = build_document(rec.type, json.loads(rec.fields))
            if isinstance(doc, VatInvoice):
                invoices[doc.number] = doc
            elif isinstance(doc, Contract):
                contracts[doc.number] = doc
            else:
                notes[doc.number] = doc
            claimed.append({"type": rec.type, "number": rec.number, "content_hash": rec.content_hash})
    claimed.sort(key=lambda d: (d["type"], d["number"]))
    return Documents(invoices, contracts, notes), claimed


def _usage(repo: Repository, numbers: Sequence[str]) -> dict[str, InvoiceUsage]:
    uses: dict[str, list[InvoiceUse]] = {}
    for u in repo.invoice_uses(numbers):
        uses.setdefault(u.invoice_number, []).append(InvoiceUse(u.use_id, HopKind(u.kind), u.amount_minor))
    return {n: InvoiceUsage(n, tuple(found)) for n, found in uses.items()}


def check_hop(
    repo: Repository,
    hop: Hop,
    *,
    obligor_id: str,
    today: date,
    verification_id: str,
) -> Checked:
    """Gather the facts of ``hop``, run the default rules, and describe the verdict (not yet stored).

    The claimed invoices are row-locked first: two hops on different vouchers claiming one invoice would
    otherwise each see the other's usage missing and both pass. Taken after the voucher and holding locks and
    in number order, these locks keep the handlers' lock order acyclic."""
    repo.lock_documents(VatInvoice.DOCUMENT_TYPE, hop.invoice_numbers)
    documents, claimed = _documents(repo, [hop] if hop.backing is None else [hop, hop.backing])
    facts = Facts(
        hop=hop,
        documents=documents,
        obligor=ObligorStatus(obligor_id, repo.obligor_has_overdue(obligor_id, today)),
        usage=_usage(repo, hop.invoice_numbers),
    )
    verdict = verify(facts)
    allocations, _ = allocate_invoice_usage(facts)
    record = VerificationRecord(
        id=verification_id,
        subject_kind=hop.kind.value,
        subject_id=hop.id,
        voucher_id=hop.voucher_id,
        outcome=verdict.outcome.value,
        ruleset=",".join(r.version for r in verdict.results),
        results=json.dumps(
            [
                {"rule": r.rule, "version": r.version, "outcome": r.outcome.value, "reasons": list(r.reasons)}
                for r in verdict.results
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        documents=json.dumps(claimed, separators=(",", ":")),
    )
    uses = tuple(
        InvoiceUseRecord(a.invoice_number, hop.id, hop.kind.value, a.amount_minor, hop.currency) for a in allocations
    )
    return Checked(verdict, record, uses)


def refuse_if_enforced(checked: Checked, *, enforce: bool) -> None:
    """Raise ``trade_check_failed`` (with the failing rules and their reasons) when the verdict fails and the
    platform enforces trade checks."""
    if enforce and checked.failed:
        failures = checked.verdict.failures
        first = failures[0]
        raise TradeCheckFailed(
            f"The trade background does not hold: {first.version}: {first.reasons[0]}",
            results=[{"rule": r.version, "reasons": list(r.reasons)} for r in failures],
        )


def store(repo: Repository, checked: Checked, event_id: str, *, record_usage: bool = True) -> None:
    repo.add_verification(checked.record, event_id)
    if record_usage:
        repo.add_invoice_uses(checked.uses, event_id)


def issue_hop(voucher: Voucher, obligor: PartyFacts, holder: PartyFacts) -> Hop:
    return Hop(
        id=voucher.id,
        kind=HopKind.ISSUE,
        voucher_id=voucher.id,
        from_party=obligor,
        to_party=holder,
        hop_date=voucher.issue_date,
        maturity=voucher.maturity,
        amount_minor=voucher.face_minor,
        currency=voucher.currency,
        invoice_numbers=tuple(voucher.invoice_refs),
        contract_number=voucher.contract_ref,
    )


def backing_hop(repo: Repository, voucher: Voucher, holding: Holding) -> Hop | None:
    """The issue or accepted transfer that brought ``holding``'s units to its holder, as a ``Hop``."""
    current: Holding | None = holding
    for _ in range(MAX_BACKING_WALK):
        if current is None:
            return None
        offer = repo.accepted_offer_for_holding(current.id)
        if offer is not None and offer.recipient == holding.holder:
            sender, recipient = repo.get_party(offer.sender), repo.get_party(offer.recipient)
            created = repo.offer_created_on(offer.id)
            if sender is None or recipient is None or created is None:
                return None
            sender_facts, recipient_facts = parties_facts(repo, sender, recipient)
            return Hop(
                id=offer.id,
                kind=HopKind.TRANSFER,
                voucher_id=voucher.id,
                from_party=sender_facts,
                to_party=recipient_facts,
                hop_date=created,
                maturity=voucher.maturity,
                amount_minor=offer.units_minor,
                currency=voucher.currency,
                invoice_numbers=tuple(offer.invoice_refs),
                contract_number=offer.trade_ref,
            )
        if current.parent_id is None:
            if current.tier != 1 or holding.holder != voucher.first_holder:
                return None
            obligor, first = repo.get_party(voucher.obligor), repo.get_party(voucher.first_holder)
            if obligor is None or first is None:
                return None
            return issue_hop(voucher, *parties_facts(repo, obligor, first))
        current = repo.get_holding(current.parent_id)
    return None
