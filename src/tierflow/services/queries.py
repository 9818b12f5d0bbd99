"""Read side: what a party may see, and the provenance of any holding or unit.

Visibility rules (the operator sees everything):

- parties: the directory (id, name, role, public key) is visible to every registered party;
- vouchers: the obligor, and anyone who holds or held a part of it;
- holdings: the holder, the voucher's obligor, and the financial institution asked to finance it;
  the provenance of a holding is visible to whoever may see the holding (a holder must be able to check
  where its units came from);
- offers: sender and recipient; financings: applicant and financier; settlements: the obligor and payees;
- trade documents: the party that registered the document, its seller and its buyer.

The portal's views follow the same rules:

- an obligor's payables (``maturity_ladder``, ``tier_travel``, ``voucher_reach``): the obligor only;
- one voucher's whole tree of holdings (``voucher_tiers``): the voucher's obligor only (a holder sees its own
  holdings and their provenance, not the other branches);
- a wallet (``wallet``): the viewer's own holdings (the operator: everyone's);
- offers and financings as listed above, with the parties' names joined in (``offers``, ``financing_queue``:
  the financings the viewer was asked to fund, with the facts to decide; a party never asked sees an empty
  queue);
- a financial institution's portfolio (``portfolio``): that institution only;
- history (``party_history``): the journal entries that concern the viewer (``event_parties``);
- the journal overview (``journal_overview``): the operator's people only; anyone else is refused with
  ``not_authorised`` (the journal is not an object whose existence could be probed, so a plain refusal
  says more than ``not_found``).

Unknown and invisible objects both answer ``not_found``, so ids cannot be probed: asking for the payables
of another obligor, the portfolio of another bank or the tiers of another obligor's voucher is ``not_found``.
Listings answer only what is visible (an empty page rather than an error).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tierflow.domain.errors import DomainError, NotAuthorised
from tierflow.domain.model import Party, Role
from tierflow.domain.money import exponent
from tierflow.services.errors import NotFound


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    has_more: bool


class ReadModel(Protocol):
    def party(self, party_id: str) -> dict[str, Any] | None: ...
    def parties(self, *, role: str | None, limit: int, after: str | None) -> Page: ...
    def voucher(self, voucher_id: str) -> dict[str, Any] | None: ...
    def vouchers(self, *, viewer: str | None, limit: int, after: str | None) -> Page: ...
    def has_held(self, party_id: str, voucher_id: str) -> bool: ...
    def document(self, document_id: str) -> dict[str, Any] | None: ...
    def documents(
        self, *, viewer: str | None, doc_type: str | None, number: str | None, limit: int, after: str | None
    ) -> Page: ...
    def holding(self, holding_id: str) -> dict[str, Any] | None: ...
    def holdings(
        self, *, holder: str | None, voucher_id: str | None, status: str | None, limit: int, after: str | None
    ) -> Page: ...
    def financier_of(self, holding_id: str) -> set[str]: ...
    def chain(self, holding_id: str) -> list[dict[str, Any]]: ...
    def holding_at_unit(self, voucher_id: str, unit: int) -> str | None: ...
    def offer(self, offer_id: str) -> dict[str, Any] | None: ...
    def offers(self, *, party: str | None, role: str, status: str | None, limit: int, after: str | None) -> Page: ...
    def financing(self, financing_id: str) -> dict[str, Any] | None: ...
    def financings(self, *, party: str | None, status: str | None, limit: int, after: str | None) -> Page: ...
    def settlements(self, voucher_id: str) -> list[dict[str, Any]]: ...
    def event(self, event_id: str) -> dict[str, Any] | None: ...
    def event_concerns(self, event_id: str) -> set[str]: ...
    # portal views (one statement per figure; see SqlReadModel)
    def maturity_ladder(self, obligor_id: str) -> list[dict[str, Any]]: ...
    def tier_travel(self, obligor_id: str) -> list[dict[str, Any]]: ...
    def voucher_reach(self, obligor_id: str, *, limit: int, after: str | None) -> Page: ...
    def voucher_tiers(self, voucher_id: str, *, limit: int) -> dict[str, Any]: ...
    def wallet(self, *, holder: str | None, status: str | None, limit: int, after: str | None) -> dict[str, Any]: ...
    def history(self, *, party: str | None, limit: int, before: str | None) -> Page: ...
    def financing_queue(self, *, financier: str | None, status: str | None, limit: int, after: str | None) -> Page: ...
    def portfolio(self, holder: str) -> dict[str, Any]: ...
    def journal_overview(self, *, limit: int, before: str | None, checkpoints: int) -> dict[str, Any]: ...


class QueryService:
    def __init__(self, read: ReadModel) -> None:
        self._read = read

    @staticmethod
    def _all(viewer: Party) -> bool:
        return viewer.role is Role.OPERATOR

    # parties ------------------------------------------------------------------------------------------

    def party(self, viewer: Party, party_id: str) -> dict[str, Any]:
        found = self._read.party(party_id)
        if found is None:
            raise NotFound(f"No party {party_id!r}.", party_id=party_id)
        return found

    def parties(self, viewer: Party, *, role: str | None, limit: int, after: str | None) -> Page:
        return self._read.parties(role=role, limit=limit, after=after)

    # vouchers -----------------------------------------------------------------------------------------

    def voucher(self, viewer: Party, voucher_id: str) -> dict[str, Any]:
        found = self._read.voucher(voucher_id)
        if found is None or not (
            self._all(viewer) or found["obligor"] == viewer.id or self._read.has_held(viewer.id, voucher_id)
        ):
            raise NotFound(f"No voucher {voucher_id!r} visible to you.", voucher_id=voucher_id)
        return found

    def vouchers(self, viewer: Party, *, limit: int, after: str | None) -> Page:
        return self._read.vouchers(viewer=None if self._all(viewer) else viewer.id, limit=limit, after=after)

    def settlements(self, viewer: Party, voucher_id: str) -> list[dict[str, Any]]:
        voucher = self.voucher(viewer, voucher_id)
        rows = self._read.settlements(voucher_id)
        if self._all(viewer) or voucher["obligor"] == viewer.id:
            return rows
        # A payee sees its own payments only.
        return [{**row, "payments": [p for p in row["payments"] if p["holder"] == viewer.id]} for row in rows]

    # trade documents ----------------------------------------------------------------------------------

    def document(self, viewer: Party, document_id: str) -> dict[str, Any]:
        found = self._read.document(document_id)
        if found is None or not (
            self._all(viewer) or viewer.id in (found["registered_by"], found["seller"], found["buyer"])
        ):
            raise NotFound(f"No document {document_id!r} visible to you.", document_id=document_id)
        return found

    def documents(
        self, viewer: Party, *, doc_type: str | None, number: str | None, limit: int, after: str | None
    ) -> Page:
        viewer_id = None if self._all(viewer) else viewer.id
        return self._read.documents(viewer=viewer_id, doc_type=doc_type, number=number, limit=limit, after=after)

    # holdings -----------------------------------------------------------------------------------------

    def _may_see_holding(self, viewer: Party, holding: dict[str, Any]) -> bool:
        if self._all(viewer) or holding["holder"] == viewer.id:
            return True
        voucher = self._read.voucher(holding["voucher_id"])
        if voucher is not None and voucher["obligor"] == viewer.id:
            return True
        return viewer.id in self._read.financier_of(holding["id"])

    def holding(self, viewer: Party, holding_id: str) -> dict[str, Any]:
        found = self._read.holding(holding_id)
        if found is None or not self._may_see_holding(viewer, found):
            raise NotFound(f"No holding {holding_id!r} visible to you.", holding_id=holding_id)
        return found

    def holdings(
        self, viewer: Party, *, voucher_id: str | None, status: str | None, limit: int, after: str | None
    ) -> Page:
        if voucher_id is not None and not self._all(viewer):
            voucher = self._read.voucher(voucher_id)
            if voucher is not None and voucher["obligor"] == viewer.id:
                return self._read.holdings(holder=None, voucher_id=voucher_id, status=status, limit=limit, after=after)
        holder = None if self._all(viewer) else viewer.id
        return self._read.holdings(holder=holder, voucher_id=voucher_id, status=status, limit=limit, after=after)

    def provenance(self, viewer: Party, holding_id: str) -> dict[str, Any]:
        holding = self.holding(viewer, holding_id)
        chain = self._read.chain(holding_id)
        voucher = self._read.voucher(holding["voucher_id"])
        return {"holding": holding, "voucher": voucher, "chain": chain, "hops": hops(chain)}

    def unit_provenance(self, viewer: Party, voucher_id: str, unit: int) -> dict[str, Any]:
        holding_id = self._read.holding_at_unit(voucher_id, unit)
        if holding_id is None:
            raise NotFound(f"Voucher {voucher_id!r} has no unit {unit}.", voucher_id=voucher_id, unit=unit)
        result = self.provenance(viewer, holding_id)
        return {"unit": unit, **result}

    # offers and financings ----------------------------------------------------------------------------

    def offer(self, viewer: Party, offer_id: str) -> dict[str, Any]:
        found = self._read.offer(offer_id)
        if found is None or not (self._all(viewer) or viewer.id in (found["sender"], found["recipient"])):
            raise NotFound(f"No offer {offer_id!r} visible to you.", offer_id=offer_id)
        return found

    def offers(self, viewer: Party, *, direction: str, status: str | None, limit: int, after: str | None) -> Page:
        party = None if self._all(viewer) else viewer.id
        return self._read.offers(party=party, role=direction, status=status, limit=limit, after=after)

    def financing(self, viewer: Party, financing_id: str) -> dict[str, Any]:
        found = self._read.financing(financing_id)
        if found is None or not (self._all(viewer) or viewer.id in (found["applicant"], found["financier"])):
            raise NotFound(f"No financing {financing_id!r} visible to you.", financing_id=financing_id)
        return found

    def financings(self, viewer: Party, *, status: str | None, limit: int, after: str | None) -> Page:
        party = None if self._all(viewer) else viewer.id
        return self._read.financings(party=party, status=status, limit=limit, after=after)

    def financing_queue(
        self, viewer: Party, *, status: str | None = "requested", limit: int, after: str | None
    ) -> Page:
        """The financings the viewer was asked to fund (default: those waiting for its decision), oldest first,
        each with what a credit officer needs: applicant, obligor (and whether it has overdue units), price,
        the holding's tier and the voucher's contract and invoices. ``status=None`` lists every status."""
        financier = None if self._all(viewer) else viewer.id
        return self._read.financing_queue(financier=financier, status=status, limit=limit, after=after)

    # portal: a core enterprise's payables ---------------------------------------------------------------

    def _obligor_scope(self, viewer: Party, obligor_id: str) -> None:
        if self._all(viewer):
            if self._read.party(obligor_id) is None:
                raise NotFound(f"No party {obligor_id!r}.", party_id=obligor_id)
        elif viewer.id != obligor_id:
            raise NotFound(f"No payables of {obligor_id!r} visible to you.", party_id=obligor_id)

    def maturity_ladder(self, viewer: Party, obligor_id: str) -> list[dict[str, Any]]:
        """What the obligor owes per maturity month and currency, oldest month first."""
        self._obligor_scope(viewer, obligor_id)
        return self._read.maturity_ladder(obligor_id)

    def tier_travel(self, viewer: Party, obligor_id: str) -> list[dict[str, Any]]:
        """How much of the obligor's unpaid vouchers is held at each tier now, and by how many parties."""
        self._obligor_scope(viewer, obligor_id)
        return self._read.tier_travel(obligor_id)

    def voucher_reach(self, viewer: Party, obligor_id: str, *, limit: int, after: str | None) -> Page:
        """The obligor's vouchers by maturity, each with how far it travelled (deepest tier, holders ever)."""
        self._obligor_scope(viewer, obligor_id)
        return self._read.voucher_reach(obligor_id, limit=limit, after=after)

    def voucher_tiers(self, viewer: Party, voucher_id: str, *, limit: int = 200) -> dict[str, Any]:
        """Amounts per tier of one voucher's current holdings, and every holding it ever had (for a provenance
        graph, parents before children, at most ``limit`` of them: ``truncated`` says when there are more)."""
        found = self._read.voucher(voucher_id)
        if found is None or not (self._all(viewer) or found["obligor"] == viewer.id):
            raise NotFound(f"No voucher {voucher_id!r} visible to you.", voucher_id=voucher_id)
        return self._read.voucher_tiers(voucher_id, limit=limit)

    # portal: a supplier's wallet, a bank's portfolio --------------------------------------------------

    def wallet(self, viewer: Party, *, status: str | None = None, limit: int, after: str | None) -> dict[str, Any]:
        """The viewer's holdings (current ones, or those of ``status``) by maturity, and totals per status."""
        holder = None if self._all(viewer) else viewer.id
        return self._read.wallet(holder=holder, status=status, limit=limit, after=after)

    def portfolio(self, viewer: Party, financier_id: str) -> dict[str, Any]:
        """A financial institution's unpaid holdings by obligor and maturity month, with totals per obligor."""
        if self._all(viewer):
            if self._read.party(financier_id) is None:
                raise NotFound(f"No party {financier_id!r}.", party_id=financier_id)
        elif viewer.id != financier_id:
            raise NotFound(f"No portfolio of {financier_id!r} visible to you.", party_id=financier_id)
        return self._read.portfolio(financier_id)

    # journal ------------------------------------------------------------------------------------------

    def event(self, viewer: Party, event_id: str) -> dict[str, Any]:
        found = self._read.event(event_id)
        if found is None or not (self._all(viewer) or viewer.id in self._read.event_concerns(event_id)):
            raise NotFound(f"No journal entry {event_id!r} concerning you.", event_id=event_id)
        return found

    def party_history(self, viewer: Party, *, limit: int, before: str | None) -> Page:
        """The journal entries that concern the viewer (the operator: all), newest first, each with a one-line
        summary. ``before`` is the ``cursor`` of the last item of the previous page."""
        page = self._read.history(party=None if self._all(viewer) else viewer.id, limit=limit, before=before)
        return Page([_summarised(item) for item in page.items], page.has_more)

    def journal_overview(
        self, viewer: Party, *, limit: int, before: str | None, checkpoints: int = 10
    ) -> dict[str, Any]:
        """The operator's view of the journal: the latest entries, the latest checkpoints with their number of
        witness cosignatures, and counts."""
        if not self._all(viewer):
            raise NotAuthorised("The journal overview is for the platform operator's people.")
        overview = self._read.journal_overview(limit=limit, before=before, checkpoints=checkpoints)
        return {**overview, "events": [_summarised(item) for item in overview["events"]]}


def hops(chain: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chain reduced to changes of hands: one entry per (holder, tier) the units passed through."""
    out: list[dict[str, Any]] = []
    for link in chain:
        if out and out[-1]["holder"] == link["holder"] and out[-1]["tier"] == link["tier"]:
            continue
        out.append(
            {
                "holder": link["holder"],
                "holder_name": link.get("holder_name"),
                "tier": link["tier"],
                "holding_id": link["id"],
                "event_id": link["created_event"],
                "event_kind": link.get("event_kind"),
                "leaf_index": link.get("leaf_index"),
                "trade_ref": link.get("trade_ref"),
                "invoice_refs": link.get("invoice_refs"),
            }
        )
    return out


# --- one-line summaries of journal entries ----------------------------------------------------------------


def format_amount(minor: int, currency: str) -> str:
    """``CNY 1,250,000.00`` (exact: integer arithmetic on minor units)."""
    try:
        places = exponent(currency)
    except DomainError:
        return f"{currency} {minor}"
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**places)
    return f"{currency} {sign}{whole:,}" + (f".{frac:0{places}d}" if places else "")


def _amount(details: dict[str, Any]) -> str:
    minor, currency = details.get("amount_minor"), details.get("currency")
    if isinstance(minor, int) and isinstance(currency, str):
        return format_amount(minor, currency)
    return "an amount"


def _who(details: dict[str, Any], key: str) -> str:
    return str(details.get(f"{key}_name") or details.get(key) or "someone")


def summary(kind: str, details: dict[str, Any]) -> str:
    """A short sentence for a journal entry, from the facts ``SqlReadModel.history`` extracted from its leaf."""
    amount = _amount(details)
    if kind == "party.register":
        return f"Registered {details.get('name') or details.get('party_id')} ({details.get('role')})"
    if kind == "voucher.issue":
        return (
            f"Issued {amount} to {_who(details, 'counterparty')}, due {details.get('maturity')} "
            f"(contract {details.get('contract_ref')})"
        )
    if kind == "voucher.settle":
        text = f"Paid {amount} on voucher {details.get('voucher_id')}"
        overdue = details.get("overdue_minor")
        if isinstance(overdue, int) and overdue > 0:
            text += f"; {format_amount(overdue, str(details.get('currency')))} overdue"
        return text
    if kind == "transfer.offer":
        return f"Offered {amount} to {_who(details, 'counterparty')} (trade {details.get('trade_ref')})"
    if kind == "transfer.accept":
        return f"{_who(details, 'recipient')} accepted {amount} from {_who(details, 'sender')}"
    if kind == "transfer.reject":
        return f"{_who(details, 'recipient')} rejected {amount} from {_who(details, 'sender')}"
    if kind == "transfer.expire":
        return f"Offer of {amount} from {_who(details, 'sender')} to {_who(details, 'recipient')} expired"
    if kind == "financing.request":
        return f"Asked {_who(details, 'counterparty')} to finance {amount} at {details.get('annual_rate')} a year"
    if kind == "financing.fund":
        return f"{_who(details, 'financier')} funded {amount} for {_who(details, 'applicant')}"
    if kind == "financing.decline":
        return f"{_who(details, 'financier')} declined to finance {amount} for {_who(details, 'applicant')}"
    if kind == "financing.cancel":
        return f"{_who(details, 'applicant')} withdrew the request to finance {amount}"
    case_steps = {
        "financing.review": "Reviewed financing {} (maker's recommendation)",
        "financing.approve": "Approved financing {} (checker)",
        "financing.sign": "Signed the contract of financing {}",
        "financing.register": "Registered the assignment behind financing {} with the registry",
        "financing.repay": "Reconciled a repayment of financing {}",
        "financing.overdue": "Financing {} went overdue",
        "financing.recourse": "Turned to the applicant under recourse for financing {}",
    }
    if kind in case_steps:
        return case_steps[kind].format(details.get("financing_id") or "")
    if kind == "holding.freeze":
        reason = str(details.get("reason") or "")
        reason = reason if len(reason) <= 80 else reason[:79] + "…"
        return (
            f"Froze units {details.get('start_unit')}–{details.get('end_unit')} of holding "
            f"{details.get('holding_id')}: {reason}"
        )
    if kind == "document.register":
        kinds = {"vat_invoice": "VAT invoice", "contract": "contract", "delivery_note": "delivery note"}
        return f"Registered {kinds.get(str(details.get('type')), 'document')} {details.get('number')}"
    if kind == "freeze.release":
        return f"Released freeze {details.get('freeze_id')}"
    return kind


def _summarised(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "summary": summary(str(item["kind"]), item.get("details") or {})}
