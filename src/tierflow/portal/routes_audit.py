"""Operator and auditor pages: the journal, checkpoints and cosignatures, receipts verified in the browser,
provenance graphs."""

from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tierflow.portal import graphs
from tierflow.portal.access import AuditArea, platform_of
from tierflow.portal.receipts import ReceiptForm, cosigner_ids
from tierflow.portal.render import page
from tierflow.portal.routes_public import TextParam, verify_page
from tierflow.services.errors import NotFound

router = APIRouter(prefix="/portal/audit", tags=["portal"], include_in_schema=False)
Cursor = Annotated[str | None, Query(max_length=64)]


@router.get("", response_class=HTMLResponse)
def journal(request: Request, viewer: AuditArea, before: Cursor = None) -> Response:
    platform = platform_of(request)
    overview = platform.queries.journal_overview(viewer.party, limit=50, before=before)
    return page(
        request,
        "audit_journal.html",
        viewer,
        nav="journal",
        overview=overview,
        checkpoint=platform.journal.latest_checkpoint(),
        verifier_key=platform.journal.verifier_key(),
    )


@router.get("/checkpoints/{size}", response_class=HTMLResponse)
def checkpoint(request: Request, viewer: AuditArea, size: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    platform = platform_of(request)
    note = platform.journal.checkpoint_note(size)
    witnesses = [platform.queries.party(viewer.party, party_id) for party_id in cosigner_ids(note)]
    return page(request, "audit_checkpoint.html", viewer, nav="journal", size=size, note=note, witnesses=witnesses)


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event(request: Request, viewer: AuditArea, event_id: Annotated[str, Path(max_length=64)]) -> Response:
    platform = platform_of(request)
    found = platform.queries.event(viewer.party, event_id)
    leaf = json.loads(base64.b64decode(found["leaf"]))
    return page(
        request,
        "audit_event.html",
        viewer,
        nav="journal",
        event=found,
        leaf=leaf,
        leaf_json=json.dumps(leaf, indent=2, ensure_ascii=False),
    )


@router.get("/verify", response_class=HTMLResponse)
def verify(
    request: Request,
    viewer: AuditArea,
    event: Annotated[str | None, Query(max_length=64)] = None,
    receipt: TextParam = "",
    checkpoint: TextParam = "",
    vkey: Annotated[str, Query(max_length=500)] = "",
    witness_vkeys: TextParam = "",
    min_cosignatures: Annotated[int, Query(ge=0, le=20)] = 0,
    check: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    platform = platform_of(request)
    fields = ReceiptForm(receipt, checkpoint, vkey or platform.journal.verifier_key(), witness_vkeys, min_cosignatures)
    return verify_page(request, viewer, "audit_verify.html", event_id=event, fields=fields, check=check, nav="verify")


@router.get("/vouchers", response_class=HTMLResponse)
def vouchers(
    request: Request,
    viewer: AuditArea,
    after: Cursor = None,
    find: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    platform = platform_of(request)
    if find:
        find = find.strip()
        try:
            platform.queries.voucher(viewer.party, find)
            return RedirectResponse(f"/portal/audit/vouchers/{find}", status_code=303)
        except NotFound:
            platform.queries.holding(viewer.party, find)  # NotFound again: the page says so
            return RedirectResponse(f"/portal/audit/holdings/{find}", status_code=303)
    listing = platform.queries.vouchers(viewer.party, limit=50, after=after)
    return page(request, "audit_vouchers.html", viewer, nav="provenance", vouchers=listing)


@router.get("/vouchers/{voucher_id}", response_class=HTMLResponse)
def voucher(request: Request, viewer: AuditArea, voucher_id: Annotated[str, Path(max_length=64)]) -> Response:
    platform = platform_of(request)
    found = platform.queries.voucher(viewer.party, voucher_id)
    tiers = platform.queries.voucher_tiers(viewer.party, voucher_id)
    chart = graphs.voucher_graph(
        found, tiers, href=lambda node_id: f"/portal/audit/holdings/{node_id}", obligor_name=tiers["obligor_name"]
    )
    return page(request, "audit_voucher.html", viewer, nav="provenance", voucher=found, tiers=tiers, chart=chart)


@router.get("/holdings/{holding_id}", response_class=HTMLResponse)
def holding(request: Request, viewer: AuditArea, holding_id: Annotated[str, Path(max_length=64)]) -> Response:
    platform = platform_of(request)
    provenance = platform.queries.provenance(viewer.party, holding_id)
    chart = graphs.chain_graph(provenance, href=lambda node_id: f"/portal/audit/holdings/{node_id}")
    return page(request, "audit_holding.html", viewer, nav="provenance", provenance=provenance, chart=chart)
