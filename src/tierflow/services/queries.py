"""Read side: what a party may see, and the provenance of any holding or unit.

Visibility rules (the operator sees everything):

- parties: the directory (id, name, role, public key) is visible to every registered party;
- vouchers: the obligor, and anyone who holds or held a part of it;
- holdings: the holder, the voucher's obligor, and the financial institution asked to finance it;
  the provenance of a holding is visible to whoever may see the holding (a holder must be able to check
  where its units came from);
- offers: sender and recipient; financings: applicant and financier; settlements: the obligor and payees.

Unknown and invisible objects both answer ``not_found``, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tierflow.domain.model import Party, Role
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

    # journal ------------------------------------------------------------------------------------------

    def event(self, viewer: Party, event_id: str) -> dict[str, Any]:
        found = self._read.event(event_id)
        if found is None or not (self._all(viewer) or viewer.id in self._read.event_concerns(event_id)):
            raise NotFound(f"No journal entry {event_id!r} concerning you.", event_id=event_id)
        return found


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
