"""Trade documents: contracts, VAT e-invoices and delivery notes registered by their seller or buyer.

``POST /v1/documents`` takes a signed ``document.register`` command and an ``Idempotency-Key``; a VAT e-invoice is
first checked with the tax authority's verification service (refused when void, reversed or different from the
authority's record; a warning when the authority does not know it). The GETs are
scoped to the registering party, the document's seller and buyer, and the operator
(``tierflow.services.queries``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from tierflow.api import commands
from tierflow.api.auth import CurrentParty, PlatformDep
from tierflow.api.schemas import Accepted, ListPage, SignedCommandIn
from tierflow.services.invoice_checks import check_with_tax_authority

router = APIRouter(prefix="/v1", tags=["documents"])


@router.post(
    "/documents",
    response_model=Accepted,
    status_code=201,
    summary="The seller or buyer registers a contract, VAT e-invoice or delivery note (document.register)",
)
async def register_document(
    request: Request, response: Response, platform: PlatformDep, party: CurrentParty, payload: SignedCommandIn
) -> Accepted:
    warnings = check_with_tax_authority(platform.outside.tax, payload.command)
    accepted = await commands.run(request, platform, party, payload, "document.register")
    response.headers["Location"] = f"/v1/documents/{accepted.effects['document_id']}"
    answer = accepted.as_json()
    return Accepted(**{**answer, "warnings": [*answer["warnings"], *warnings]})


@router.get("/documents", response_model=ListPage, summary="Documents visible to you; filters `type`, `number`")
def list_documents(
    platform: PlatformDep,
    party: CurrentParty,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    starting_after: Annotated[
        str | None, Query(max_length=64, description="Cursor: the last id of the previous page")
    ] = None,
    type: Annotated[str | None, Query(max_length=16, description="contract, vat_invoice or delivery_note")] = None,
    number: Annotated[str | None, Query(max_length=200)] = None,
) -> ListPage:
    page = platform.queries.documents(party, doc_type=type, number=number, limit=limit, after=starting_after)
    return ListPage(data=page.items, has_more=page.has_more)


@router.get("/documents/{document_id}", summary="One document, with its fields and content hash")
def get_document(platform: PlatformDep, party: CurrentParty, document_id: str) -> dict[str, Any]:
    return platform.queries.document(party, document_id)
