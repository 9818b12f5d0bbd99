"""Financing cases: the asset-management workflow around a financing, for API clients that sign their own commands.

The transitions themselves are signed commands on ``/v1/financings/{financing_id}/<verb>`` (``routes_ledger``).
These routes do the work around them that needs the platform: reading the case, drawing up the contract,
checking a signed contract before its hash is signed into ``financing.sign``, building the ``pain.001`` that
``financing.fund`` records, and matching a ``camt.054`` to the ``financing.repay`` commands to sign.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from tierflow.api.auth import CurrentParty, PlatformDep
from tierflow.api.problems import ApiProblem
from tierflow.services.financing_case import sha256_hex
from tierflow.services.payment_data import Account

router = APIRouter(prefix="/v1", tags=["financing cases"])

MAX_UPLOAD = 10 * 1024 * 1024


class AccountIn(BaseModel):
    number: str = Field(max_length=34, description="Domestic account number")
    name: str = Field(max_length=140, description="Account holder's name")
    bank_code: str = Field(max_length=12, description="The bank's 12-digit CNAPS code")
    bank_name: str = Field("", max_length=140)

    def account(self) -> Account:
        try:
            return Account(self.number, self.name, self.bank_code, self.bank_name)
        except ValueError as exc:
            raise ApiProblem(400, "invalid_command", f"Bad account: {exc}.") from None


class PaymentIn(BaseModel):
    debtor: AccountIn = Field(description="The institution's account the net proceeds are paid from")
    creditor: AccountIn = Field(description="The applicant's account they are paid to")


async def _upload(request: Request, media_types: tuple[str, ...]) -> bytes:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in media_types:
        raise ApiProblem(415, "unsupported_media_type", f"Send the file as {' or '.join(media_types)}.")
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > MAX_UPLOAD:
            raise ApiProblem(413, "payload_too_large", f"Files are at most {MAX_UPLOAD // (1024 * 1024)} MiB.")
    return bytes(data)


@router.get("/financings/{financing_id}/case", summary="The financing's case: stage, verdict, steps, files")
def get_case(platform: PlatformDep, party: CurrentParty, financing_id: str) -> dict[str, Any]:
    return platform.cases.case(party, financing_id)


@router.get(
    "/financings/{financing_id}/files/{sha256}",
    summary="A file of the case (contract PDF, pain.001) by its SHA-256",
    response_class=Response,
)
def get_case_file(platform: PlatformDep, party: CurrentParty, financing_id: str, sha256: str) -> Response:
    media_type, content = platform.cases.file(party, financing_id, sha256)
    extension = "pdf" if media_type == "application/pdf" else "xml"
    disposition = f'attachment; filename="{financing_id}-{sha256[:12]}.{extension}"'
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


@router.get(
    "/financings/{financing_id}/contract",
    summary="The contract drawn up from the approved financing's terms (unsigned PDF)",
    response_class=Response,
)
def get_contract(platform: PlatformDep, party: CurrentParty, financing_id: str) -> Response:
    pdf = platform.cases.contract_draft(party, financing_id)
    return Response(pdf, media_type="application/pdf", headers={"X-Content-SHA256": sha256_hex(pdf)})


@router.post(
    "/financings/{financing_id}/contract",
    summary="Check a signed contract (PAdES) and keep it; sign its SHA-256 into financing.sign next",
)
async def post_signed_contract(
    request: Request, platform: PlatformDep, party: CurrentParty, financing_id: str
) -> dict[str, Any]:
    pdf = await _upload(request, ("application/pdf",))
    # In the thread pool: the check is CPU and database work, and pyHanko runs an event loop of its own.
    checks = await run_in_threadpool(platform.cases.check_signed_contract, party, financing_id, pdf)
    return {
        "sha256": sha256_hex(pdf),
        "signatures": [
            {
                "field": c.field_name,
                "signer": c.signer,
                "signer_party": c.signer_party,
                "signed_at": c.signed_at.isoformat() if c.signed_at else None,
            }
            for c in checks
        ],
    }


@router.post(
    "/financings/{financing_id}/payment-instruction",
    summary="The pain.001 paying the net proceeds (validated against the ISO 20022 XSD); record it with "
    "financing.fund once the bank accepts it",
)
def post_payment_instruction(
    platform: PlatformDep, party: CurrentParty, financing_id: str, payment: Annotated[PaymentIn, Body()]
) -> dict[str, Any]:
    xml = platform.cases.prepare_payment(
        party, financing_id, debtor=payment.debtor.account(), creditor=payment.creditor.account()
    )
    return {"sha256": sha256_hex(xml), "media_type": "application/xml", "pain001": xml.decode("utf-8")}


@router.post(
    "/repayments/camt054",
    summary="Match a camt.054 notification's credits to your disbursed financings; sign the financing.repay "
    "bodies returned",
)
async def post_camt054(request: Request, platform: PlatformDep, party: CurrentParty) -> dict[str, Any]:
    xml = await _upload(request, ("application/xml", "text/xml"))
    plan, report = await run_in_threadpool(platform.cases.plan_reconciliation, party, xml)
    return {"to_sign": [{"kind": "financing.repay", "body": body} for body in plan], **report.as_json()}


@router.get("/financings-due", summary="Your disbursed financings maturing soon or past due (maturity reminders)")
def get_reminders(
    platform: PlatformDep,
    party: CurrentParty,
    within_days: Annotated[int, Query(ge=0, le=366)] = 30,
) -> dict[str, Any]:
    return {"data": platform.cases.reminders(party, within_days=within_days)}
