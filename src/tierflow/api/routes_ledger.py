"""Parties, vouchers, holdings (with provenance), transfers, financings, freezes and settlements.

Every POST takes a signed command and an ``Idempotency-Key``; every GET is scoped to what the caller may
see (``tierflow.services.queries``).
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from tierflow.api import commands
from tierflow.api.auth import CurrentParty, Operator, PlatformDep
from tierflow.api.schemas import Accepted, ListPage, Registered, SignedCommandIn

router = APIRouter(prefix="/v1")
Limit = Annotated[int, Query(ge=1, le=500)]
After = Annotated[str | None, Query(max_length=64, description="Cursor: the last id of the previous page")]


def _created(response: Response, location: str, accepted: Any) -> Accepted:
    response.headers["Location"] = location
    return Accepted(**accepted.as_json())


def _page(page: Any) -> ListPage:
    return ListPage(data=page.items, has_more=page.has_more)


# --- parties ---------------------------------------------------------------------------------------------


@router.post(
    "/parties",
    response_model=Registered,
    status_code=201,
    tags=["parties"],
    summary="Register a party (operator); the command is signed by the new party's own key",
)
async def register_party(
    request: Request, response: Response, platform: PlatformDep, party: Operator, payload: SignedCommandIn
) -> Registered:
    accepted = await commands.run(request, platform, party, payload, "party.register")
    party_id = str(accepted.effects["party_id"])
    token = None if accepted.replayed_answer else await run_in_threadpool(platform.access.issue_token, party_id)
    response.headers["Location"] = f"/v1/parties/{party_id}"
    return Registered(**accepted.as_json(), token=token)


@router.get("/parties", response_model=ListPage, tags=["parties"], summary="The directory of parties")
def list_parties(
    platform: PlatformDep,
    party: CurrentParty,
    limit: Limit = 100,
    starting_after: After = None,
    role: Annotated[str | None, Query(max_length=32)] = None,
) -> ListPage:
    return _page(platform.queries.parties(party, role=role, limit=limit, after=starting_after))


@router.get("/parties/me", tags=["parties"], summary="The authenticated party")
def me(platform: PlatformDep, party: CurrentParty) -> dict[str, Any]:
    return platform.queries.party(party, party.id)


@router.get("/parties/{party_id}", tags=["parties"], summary="One party")
def get_party(platform: PlatformDep, party: CurrentParty, party_id: str) -> dict[str, Any]:
    return platform.queries.party(party, party_id)


# --- vouchers and settlement -----------------------------------------------------------------------------


@router.post(
    "/vouchers",
    response_model=Accepted,
    status_code=201,
    tags=["vouchers"],
    summary="A core enterprise confirms a payable and issues a voucher (voucher.issue)",
)
async def issue(
    request: Request, response: Response, platform: PlatformDep, party: CurrentParty, payload: SignedCommandIn
) -> Accepted:
    accepted = await commands.run(request, platform, party, payload, "voucher.issue")
    return _created(response, f"/v1/vouchers/{accepted.effects['voucher_id']}", accepted)


@router.get("/vouchers", response_model=ListPage, tags=["vouchers"])
def list_vouchers(
    platform: PlatformDep, party: CurrentParty, limit: Limit = 100, starting_after: After = None
) -> ListPage:
    return _page(platform.queries.vouchers(party, limit=limit, after=starting_after))


@router.get("/vouchers/{voucher_id}", tags=["vouchers"])
def get_voucher(platform: PlatformDep, party: CurrentParty, voucher_id: str) -> dict[str, Any]:
    return platform.queries.voucher(party, voucher_id)


@router.get(
    "/vouchers/{voucher_id}/units/{unit}/provenance",
    tags=["vouchers"],
    summary="Provenance of one unit (one fen): every holder, tier, trade reference and journal entry",
)
def unit_provenance(
    platform: PlatformDep, party: CurrentParty, voucher_id: str, unit: Annotated[int, Path(ge=1, le=2**62)]
) -> dict[str, Any]:
    return platform.queries.unit_provenance(party, voucher_id, unit)


@router.get("/vouchers/{voucher_id}/settlements", tags=["settlements"])
def voucher_settlements(platform: PlatformDep, party: CurrentParty, voucher_id: str) -> list[dict[str, Any]]:
    return platform.queries.settlements(party, voucher_id)


@router.post(
    "/settlements",
    response_model=Accepted,
    status_code=201,
    tags=["settlements"],
    summary="The obligor pays at maturity (voucher.settle); partial payments are allocated pari passu",
)
async def settle(
    request: Request, response: Response, platform: PlatformDep, party: CurrentParty, payload: SignedCommandIn
) -> Accepted:
    accepted = await commands.run(request, platform, party, payload, "voucher.settle")
    return _created(response, f"/v1/vouchers/{payload.command['body'].get('voucher_id')}/settlements", accepted)


# --- holdings and freezes --------------------------------------------------------------------------------


@router.get("/holdings", response_model=ListPage, tags=["holdings"], summary="Your holdings (current by default)")
def list_holdings(
    platform: PlatformDep,
    party: CurrentParty,
    limit: Limit = 100,
    starting_after: After = None,
    voucher_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> ListPage:
    return _page(
        platform.queries.holdings(party, voucher_id=voucher_id, status=status, limit=limit, after=starting_after)
    )


@router.get("/holdings/{holding_id}", tags=["holdings"])
def get_holding(platform: PlatformDep, party: CurrentParty, holding_id: str) -> dict[str, Any]:
    return platform.queries.holding(party, holding_id)


@router.get(
    "/holdings/{holding_id}/provenance",
    tags=["holdings"],
    summary="The holding's chain back to the voucher's root, with the journal entry of each hop",
)
def holding_provenance(platform: PlatformDep, party: CurrentParty, holding_id: str) -> dict[str, Any]:
    return platform.queries.provenance(party, holding_id)


@router.post(
    "/freezes",
    response_model=Accepted,
    status_code=201,
    tags=["holdings"],
    summary="Freeze a disputed sub-range of a holding (operator)",
)
async def freeze(
    request: Request, response: Response, platform: PlatformDep, party: Operator, payload: SignedCommandIn
) -> Accepted:
    accepted = await commands.run(request, platform, party, payload, "holding.freeze")
    return _created(response, f"/v1/holdings/{accepted.effects['frozen_holding_id']}", accepted)


@router.post(
    "/freezes/{freeze_id}/release",
    response_model=Accepted,
    status_code=201,
    tags=["holdings"],
    summary="Release a freeze (operator)",
)
async def release(
    request: Request,
    response: Response,
    platform: PlatformDep,
    party: Operator,
    freeze_id: str,
    payload: SignedCommandIn,
) -> Accepted:
    accepted = await commands.run(request, platform, party, payload, "freeze.release", freeze_id=freeze_id)
    return _created(response, f"/v1/holdings/{accepted.effects['holding_id']}", accepted)


# --- transfers -------------------------------------------------------------------------------------------


@router.post(
    "/transfers",
    response_model=Accepted,
    status_code=201,
    tags=["transfers"],
    summary="Split a holding and offer part of it to your supplier (transfer.offer)",
)
async def offer(
    request: Request, response: Response, platform: PlatformDep, party: CurrentParty, payload: SignedCommandIn
) -> Accepted:
    accepted = await commands.run(request, platform, party, payload, "transfer.offer")
    return _created(response, f"/v1/transfers/{accepted.effects['offer_id']}", accepted)


@router.get("/transfers", response_model=ListPage, tags=["transfers"])
def list_transfers(
    platform: PlatformDep,
    party: CurrentParty,
    limit: Limit = 100,
    starting_after: After = None,
    direction: Annotated[str, Query(pattern="^(incoming|outgoing|all)$")] = "all",
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> ListPage:
    return _page(platform.queries.offers(party, direction=direction, status=status, limit=limit, after=starting_after))


@router.get("/transfers/{offer_id}", tags=["transfers"])
def get_transfer(platform: PlatformDep, party: CurrentParty, offer_id: str) -> dict[str, Any]:
    return platform.queries.offer(party, offer_id)


def _add_actions(collection: str, id_name: str, actions: tuple[tuple[str, str, str], ...]) -> None:
    """``POST /v1/<collection>/{<id_name>}/<verb>`` for each ``(verb, command kind, summary)``: the command's
    body must name the same id as the path."""

    def endpoint(kind: str, summary: str) -> Any:
        async def action(
            request: Request,
            response: Response,
            platform: PlatformDep,
            party: CurrentParty,
            payload: SignedCommandIn,
            **path: str,
        ) -> Accepted:
            accepted = await commands.run(request, platform, party, payload, kind, **path)
            return _created(response, f"/v1/{collection}/{path[id_name]}", accepted)

        # FastAPI reads the signature: present the path id under its own name (offer_id, financing_id).
        signature = inspect.signature(action)
        params = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        params.append(inspect.Parameter(id_name, inspect.Parameter.KEYWORD_ONLY, annotation=str))
        action.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        action.__name__ = kind.replace(".", "_")
        action.__doc__ = summary
        return action

    for verb, kind, summary in actions:
        router.add_api_route(
            f"/{collection}/{{{id_name}}}/{verb}",
            endpoint(kind, summary),
            methods=["POST"],
            response_model=Accepted,
            status_code=201,
            tags=[collection],
            summary=summary,
        )


_add_actions(
    "transfers",
    "offer_id",
    (
        ("accept", "transfer.accept", "The recipient accepts an offer: the units become its holding, tier + 1"),
        ("reject", "transfer.reject", "The recipient rejects an offer: the units go back to the sender"),
        ("expire", "transfer.expire", "The operator expires an offer past its time"),
    ),
)


# --- financing -------------------------------------------------------------------------------------------


@router.post(
    "/financings",
    response_model=Accepted,
    status_code=201,
    tags=["financings"],
    summary="Ask a financial institution to finance part of a holding (financing.request)",
)
async def request_financing(
    request: Request, response: Response, platform: PlatformDep, party: CurrentParty, payload: SignedCommandIn
) -> Accepted:
    accepted = await commands.run(request, platform, party, payload, "financing.request")
    return _created(response, f"/v1/financings/{accepted.effects['financing_id']}", accepted)


@router.get("/financings", response_model=ListPage, tags=["financings"])
def list_financings(
    platform: PlatformDep,
    party: CurrentParty,
    limit: Limit = 100,
    starting_after: After = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> ListPage:
    return _page(platform.queries.financings(party, status=status, limit=limit, after=starting_after))


@router.get("/financings/{financing_id}", tags=["financings"])
def get_financing(platform: PlatformDep, party: CurrentParty, financing_id: str) -> dict[str, Any]:
    return platform.queries.financing(party, financing_id)


_add_actions(
    "financings",
    "financing_id",
    (
        ("review", "financing.review", "The institution's maker recommends approving or declining"),
        ("approve", "financing.approve", "A second person of the institution (the checker) approves"),
        ("sign", "financing.sign", "Record a PAdES signature on the contract: applicant first, then institution"),
        ("register", "financing.register", "Record the registry's registration number of the assignment"),
        ("fund", "financing.fund", "Disbursed: the bank took the pain.001 payment; the units move to the institution"),
        ("decline", "financing.decline", "The institution declines: the units are released to the applicant"),
        ("cancel", "financing.cancel", "The applicant withdraws its request"),
        ("repay", "financing.repay", "Record a repayment reconciled from the bank's camt.054 notification"),
        ("overdue", "financing.overdue", "Past maturity with money owed: the case goes overdue"),
        ("recourse", "financing.recourse", "With recourse in the terms, turn to the applicant for what is unpaid"),
    ),
)


@router.get(
    "/events/{event_id}",
    tags=["journal"],
    summary="A journal entry you are concerned by, with its leaf and index (a receipt)",
)
def get_event(platform: PlatformDep, party: CurrentParty, event_id: str) -> dict[str, Any]:
    return platform.queries.event(party, event_id)


@router.get(
    "/events/{event_id}/receipt",
    tags=["journal"],
    summary="An inclusion receipt: the entry, its RFC 9162 proof and the signed checkpoint it is proven against",
)
def get_receipt(platform: PlatformDep, party: CurrentParty, event_id: str) -> dict[str, Any]:
    platform.queries.event(party, event_id)  # visibility: only entries that concern the caller
    return platform.journal.receipt(event_id)
