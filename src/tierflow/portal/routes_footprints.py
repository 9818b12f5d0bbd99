"""Product carbon footprints (PACT): a data owner's page, for suppliers and core enterprises.

- **Published** (``/portal/footprints``): the party's footprints (product, ids, declared unit, PCF excluding
  biogenic uptake per declared unit, reference period, status), each with a page showing its v3 JSON; exports
  of all of them as ``{"data": [...]}`` in v3 or v2 JSON.
- **Upload** (``POST /portal/footprints``): a JSON file of one footprint, a list of them, or ``{"data": [...]}``,
  each PACT v3 or v2 (converted). Every document is checked first (schema, v2 conversion, ids repeated in the
  file or already published) and nothing is published unless all pass, each refusal named by its document.
- **PACT access** (``POST /portal/footprints/clients``): registers a PACT client for another registered party;
  its id and secret are shown once, with the token URL and the API base the recipient uses.
- **Requests** received from customers over PACT events, with their criteria and status; a pending one can be
  answered from what is published.

Footprints are operational data of the PACT host, not commands of the signed journal: publishing goes straight
to ``FootprintService``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from tierflow.domain.model import Role
from tierflow.green.pact import ProductFootprint, from_v2, to_v2
from tierflow.portal.access import AnyActor, Forbidden, SignedIn, Viewer, platform_of
from tierflow.portal.forms import Field, FormProblem, ObjectId, ShortField, directory, error_status
from tierflow.portal.render import page
from tierflow.services.footprints import (
    FootprintAccessDenied,
    FootprintError,
    FootprintNotFound,
    FootprintRequest,
    FootprintService,
    PactClient,
)

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)

BASE = "/portal/footprints"
TOKEN_PATH = "/pact/auth/token"
API_PATH = "/pact/3/footprints"
MAX_FILE = 5 * 1024 * 1024
MAX_DOCUMENTS = 1000
OWNER_ROLES = (Role.SUPPLIER, Role.CORE_ENTERPRISE)
DONE = {
    "answered": "Request answered from your published footprints; the answer is sent to the customer.",
}

Upload = Annotated[UploadFile | None, File()]
Version = Annotated[int, Query(ge=2, le=3)]


def data_owner(viewer: Viewer) -> Viewer:
    """Footprints are published by the parties that make products: suppliers and core enterprises."""
    if viewer.party.role not in OWNER_ROLES:
        raise Forbidden(
            "Product footprints are published by suppliers and core enterprises; "
            f"you sign in for {viewer.party.name}."
        )
    return viewer


def service_of(request: Request) -> FootprintService:
    return platform_of(request).footprints


# --- reading and checking uploaded documents ------------------------------------------------------------------


class UploadRefused(FormProblem):
    """The file, or some of its documents, cannot be published; ``problems`` names each refused document."""

    def __init__(self, message: str, problems: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


def documents_of(content: Any) -> list[Any]:
    """The documents of a file: one footprint, a list of them, or ``{"data": [...]}`` (as ``import_footprints``)."""
    documents = content.get("data", content) if isinstance(content, dict) else content
    if isinstance(documents, dict):
        documents = [documents]
    if not isinstance(documents, list):
        raise UploadRefused('The file must hold a footprint, a list of footprints, or {"data": [...]}.')
    if not documents:
        raise UploadRefused("The file holds no footprint.")
    if len(documents) > MAX_DOCUMENTS:
        raise UploadRefused(f"Upload at most {MAX_DOCUMENTS} footprints at a time.")
    return documents


def _where(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "document"


def _messages(error: Exception) -> list[str]:
    if isinstance(error, ValidationError):
        out = []
        for e in error.errors():
            message = str(e.get("msg", "")).removeprefix("Value error, ")
            out.append(f"{_where(e.get('loc', ()))}: {message}")
        return out[:20] + ([f"and {len(out) - 20} more"] if len(out) > 20 else [])
    return [str(error)]


def _label(document: Any) -> str:
    if not isinstance(document, dict):
        return ""
    name = document.get("productNameCompany")
    ident = document.get("id")
    parts = [str(name)[:80] if isinstance(name, str) and name else "", f"id {str(ident)[:40]}" if ident else ""]
    return ", ".join(p for p in parts if p)


def parse_one(document: Any, mass: Decimal | None) -> ProductFootprint:
    """A v3 document as is, a v2 one (``specVersion`` 2.x) converted, with the mass per declared unit given."""
    if not isinstance(document, dict):
        raise ValueError("a footprint is a JSON object")
    if str(document.get("specVersion", "")).startswith("2."):
        return from_v2(document, product_mass_per_declared_unit=mass)
    return ProductFootprint.model_validate(document)


def published_elsewhere(service: FootprintService, owner_party_id: str, footprint_id: str) -> bool | None:
    """Whether a footprint with this id exists: True if another party's, False if the owner's, None if none."""
    probe = PactClient(client_id="", owner_party_id=owner_party_id, party_id=owner_party_id)
    try:
        service.get(probe, footprint_id)
    except FootprintNotFound:
        return None
    except FootprintAccessDenied:
        return True
    return False


def check_all(service: FootprintService, owner_party_id: str, documents: Sequence[Any],
              mass: Decimal | None) -> list[ProductFootprint]:
    """Every document parsed and checked before any is published: the schema, the v2 conversion, ids repeated
    in the file, and ids already published (publishing is one document at a time, so a refusal half-way would
    leave the first ones published)."""
    problems: list[dict[str, Any]] = []
    parsed: list[ProductFootprint] = []
    seen: dict[str, int] = {}
    for n, document in enumerate(documents, start=1):
        try:
            footprint = parse_one(document, mass)
        except (ValidationError, ValueError) as error:
            messages = _messages(error)
            if mass is None and any("productMassPerDeclaredUnit is required" in m for m in messages):
                messages.append("give the kilograms of one declared unit in “Product mass per declared unit”")
            problems.append({"n": n, "label": _label(document), "messages": messages})
            continue
        ident = str(footprint.id)
        if ident in seen:
            problems.append({"n": n, "label": _label(document),
                             "messages": [f"id {ident} is also the id of document {seen[ident]} of the file"]})
            continue
        seen[ident] = n
        exists = published_elsewhere(service, owner_party_id, ident)
        if exists is not None:
            whose = "another party's footprint" if exists else "one of your published footprints"
            problems.append({"n": n, "label": _label(document),
                             "messages": [f"id {ident} is already {whose}: a new version needs a new id "
                                          "(name the old one in precedingPfIds)"]})
            continue
        parsed.append(footprint)
    if problems:
        count = len(problems)
        raise UploadRefused(
            f"{count} of the {len(documents)} footprints in the file cannot be published"
            if len(documents) > 1 else "The footprint in the file cannot be published",
            problems,
        )
    return parsed


def _mass(text: str) -> Decimal | None:
    value = text.strip()
    if not value:
        return None
    try:
        mass = Decimal(value)
    except InvalidOperation:
        mass = Decimal(-1)
    if not mass.is_finite() or mass < 0 or len(value) > 40 or "e" in value.lower():
        raise UploadRefused(f"“{value[:40]}” is not a mass: give the kilograms per declared unit, such as 11.2.")
    return mass


def read_upload(upload: UploadFile | None) -> Any:
    if upload is None or not upload.filename:
        raise UploadRefused("Choose a JSON file of product footprints to upload.")
    raw = upload.file.read(MAX_FILE + 1)
    if len(raw) > MAX_FILE:
        raise UploadRefused(f"The file is larger than {MAX_FILE // (1024 * 1024)} MiB: upload it in parts.")
    if not raw.strip():
        raise UploadRefused(f"The file {upload.filename[:120]} is empty.")
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise UploadRefused("The file is not UTF-8 text: upload the JSON document itself.") from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise UploadRefused(f"The file is not JSON: {error.msg} at {where}.") from None


# --- the page -------------------------------------------------------------------------------------------------


def _period(moment: Any) -> str:
    return moment.date().isoformat() if moment is not None else "—"


def footprint_row(footprint: ProductFootprint) -> dict[str, Any]:
    pcf = footprint.pcf
    return {
        "id": str(footprint.id),
        "name": footprint.product_name_company,
        "description": footprint.product_description,
        "product_ids": list(footprint.product_ids),
        "unit": pcf.declared_unit_of_measurement,
        "amount": str(pcf.declared_unit_amount),
        "pcf": str(pcf.pcf_excluding_biogenic_uptake),
        "period": f"{_period(pcf.reference_period_start)} to {_period(pcf.reference_period_end)}",
        "status": footprint.status,
    }


def request_row(request: FootprintRequest) -> dict[str, Any]:
    c = request.criteria
    criteria = [(name, ", ".join(values)) for name, values in (
        ("Product ids", c.product_ids), ("Company ids", c.company_ids), ("Geography", c.geographies),
        ("Classification", c.classifications), ("Status", c.statuses),
    ) if values]
    criteria += [(name, moment.isoformat()) for name, moment in (
        ("Valid on", c.valid_on), ("Valid after", c.valid_after), ("Valid before", c.valid_before),
    ) if moment is not None]
    return {"id": request.id, "client_id": request.client_id, "source": request.source, "criteria": criteria,
            "comment": request.comment, "status": request.status, "received_at": request.received_at}


def _recipients(request: Request, viewer: Viewer) -> list[dict[str, Any]]:
    return [p for p in directory(platform_of(request), viewer, None) if p["id"] != viewer.party.id]


def _footprints_page(
    request: Request,
    viewer: Viewer,
    *,
    upload_error: UploadRefused | None = None,
    published: Sequence[ProductFootprint] = (),
    client_form: Mapping[str, str] | None = None,
    client_error: str | None = None,
    client: Mapping[str, str] | None = None,
    export_error: str | None = None,
    request_error: str | None = None,
    status_code: int = 200,
) -> Response:
    service = service_of(request)
    base = str(request.base_url).rstrip("/")
    done = request.query_params.get("done", "")
    return page(
        request,
        "footprints.html",
        viewer,
        status_code=status_code,
        nav="footprints",
        flash=DONE.get(done),
        footprints=[footprint_row(f) for f in service.footprints_of(viewer.party.id)],
        upload_error=upload_error,
        published=[footprint_row(f) for f in published],
        recipients=_recipients(request, viewer),
        client_form=dict(client_form or {}),
        client_error=client_error,
        client=client,
        export_error=export_error,
        request_error=request_error,
        requests=[request_row(r) for r in service.requests(viewer.party.id, None)],
        token_url=base + TOKEN_PATH,
        api_url=base + API_PATH,
        max_file_mib=MAX_FILE // (1024 * 1024),
    )


@router.get("/footprints", response_class=HTMLResponse)
def footprints_home(request: Request, viewer: SignedIn) -> Response:
    return _footprints_page(request, data_owner(viewer))


@router.post("/footprints", response_class=HTMLResponse)
def upload_footprints(
    request: Request,
    viewer: AnyActor,
    footprints_file: Upload = None,
    product_mass: ShortField = "",
) -> Response:
    data_owner(viewer)
    service = service_of(request)
    try:
        mass = _mass(product_mass)
        checked = check_all(service, viewer.party.id, documents_of(read_upload(footprints_file)), mass)
        published = [service.publish(viewer.party.id, footprint) for footprint in checked]
    except UploadRefused as error:
        return _footprints_page(request, viewer, upload_error=error, status_code=422)
    except FootprintError as error:  # published concurrently under the same id since the check
        return _footprints_page(request, viewer, upload_error=UploadRefused(error.message),
                                status_code=error_status(error))
    return _footprints_page(request, viewer, published=published)


@router.get("/footprints/export", response_class=Response)
def export(request: Request, viewer: SignedIn, version: Version = 3) -> Response:
    """All the party's footprints as ``{"data": [...]}``, PACT v3 or v2 JSON, as a download."""
    data_owner(viewer)
    footprints = service_of(request).footprints_of(viewer.party.id)
    data: list[dict[str, Any]] = []
    refused: list[str] = []
    for footprint in footprints:
        try:
            data.append(footprint.to_json() if version == 3 else to_v2(footprint))
        except ValueError as error:
            refused.append(f"{footprint.product_name_company} ({footprint.id}): {error}")
    if refused:
        return _footprints_page(
            request, viewer, status_code=422,
            export_error="These footprints cannot be written as PACT v2, so the v2 export is not made; export v3 "
                         "instead: " + "; ".join(refused),
        )
    body = json.dumps({"data": data}, indent=2, ensure_ascii=False) + "\n"
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="footprints-pact-v{version}.json"',
        "Cache-Control": "no-store",
    })


def _own(request: Request, viewer: Viewer, footprint_id: str) -> ProductFootprint:
    for footprint in service_of(request).footprints_of(viewer.party.id):
        if str(footprint.id) == footprint_id:
            return footprint
    raise FootprintNotFound(f"You have published no footprint {footprint_id}.")


@router.get("/footprints/{footprint_id}", response_class=HTMLResponse)
def footprint_json(request: Request, viewer: SignedIn, footprint_id: ObjectId) -> Response:
    footprint = _own(request, data_owner(viewer), footprint_id)
    v2: str | None
    try:
        v2 = json.dumps(to_v2(footprint), indent=2, ensure_ascii=False)
    except ValueError:
        v2 = None
    return page(
        request, "footprint.html", viewer, nav="footprints", footprint=footprint_row(footprint),
        document=json.dumps(footprint.to_json(), indent=2, ensure_ascii=False), v2=v2,
    )


def _events_url(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or len(value) > 200:
        raise FormProblem("The events URL must be an https:// address of the recipient's PACT events endpoint.")
    return value


@router.post("/footprints/clients", response_class=HTMLResponse)
def register_client(
    request: Request,
    viewer: AnyActor,
    recipient: ShortField = "",
    events_url: Field = "",
) -> Response:
    data_owner(viewer)
    form = {"recipient": recipient, "events_url": events_url}
    try:
        known = {str(p["id"]): str(p["name"]) for p in _recipients(request, viewer)}
        if recipient not in known:
            raise FormProblem("Choose the registered party that will read your footprints.")
        url = _events_url(events_url)
        client, secret = service_of(request).register_client(viewer.party.id, recipient, events_url=url)
    except FormProblem as error:
        return _footprints_page(request, viewer, client_form=form, client_error=error.message, status_code=422)
    shown = {"client_id": client.client_id, "secret": secret, "party_id": recipient, "party_name": known[recipient],
             "events_url": url or ""}
    return _footprints_page(request, viewer, client=shown)


@router.post("/footprints/requests/{request_id}/answer", response_class=HTMLResponse)
def answer_request(request: Request, viewer: AnyActor, request_id: ObjectId) -> Response:
    data_owner(viewer)
    service = service_of(request)
    if request_id not in {r.id for r in service.requests(viewer.party.id, None)}:
        raise FootprintNotFound(f"No request {request_id} was sent to {viewer.party.name}.")
    try:
        service.answer(request_id)
    except FootprintError as error:
        return _footprints_page(request, viewer, request_error=error.message, status_code=409)
    return RedirectResponse(f"{BASE}?done=answered#requests-h", status_code=303)

