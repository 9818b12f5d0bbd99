"""Green finance over HTTP: taxonomies, certified labels and green totals, sustainability-linked terms, ESG figures.

Labels and KPI certifications are signed commands (``green.label``, ``green.label.revoke``, ``green.kpi.certify``)
from a party with the ``certifier`` role; the reads are scoped by ``tierflow.services.green``. ``POST
/v1/green/esg`` computes the HKEX KPI table from inputs in the body and stores nothing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from tierflow.api import commands
from tierflow.api.auth import CurrentParty, PlatformDep
from tierflow.api.problems import ApiProblem
from tierflow.api.schemas import Accepted, SignedCommandIn
from tierflow.domain.errors import DomainError
from tierflow.green.esg import build_table
from tierflow.green.esg_inputs import EsgInputError, parse_inputs
from tierflow.green.factors import DEFAULT_VERSION, FactorLibrary, FactorNotFound
from tierflow.green.report import render_csv, render_html, table_to_dict
from tierflow.green.taxonomy import Taxonomy, TaxonomyNode, UnknownTaxonomy, available

router = APIRouter(prefix="/v1", tags=["green finance"])

MAX_INPUTS = 2 * 1024 * 1024


def _node(taxonomy: Taxonomy, node: TaxonomyNode) -> dict[str, Any]:
    out: dict[str, Any] = {"code": node.code, "level": node.level, "name": node.name_en, "name_zh": node.name_zh}
    if node.provisional:
        out["provisional"] = True
    if node.children:
        out["children"] = [_node(taxonomy, child) for child in taxonomy.children(node.code)]
    else:
        out["criteria"] = [{"id": c.id, "text": c.text} for c in node.criteria]
    return out


@router.get("/green/taxonomies", summary="The green taxonomies and editions the platform knows, with coverage")
def list_taxonomies(party: CurrentParty) -> dict[str, Any]:
    del party
    data = []
    for ref in available():
        taxonomy = Taxonomy.load(ref.id, ref.version)
        data.append(
            {
                "id": ref.id,
                "version": ref.version,
                "counts": list(taxonomy.counts()),
                "coverage": json.loads(json.dumps(dict(taxonomy.coverage), default=list)),
                "source": json.loads(json.dumps(dict(taxonomy.source), default=list)),
            }
        )
    return {"data": data}


@router.get("/green/taxonomies/{taxonomy_id}/{version}", summary="One taxonomy edition as a tree, with criteria")
def get_taxonomy(party: CurrentParty, taxonomy_id: str, version: str) -> dict[str, Any]:
    del party
    try:
        taxonomy = Taxonomy.load(taxonomy_id, version)
    except UnknownTaxonomy as exc:
        raise ApiProblem(404, "not_found", exc.message) from None
    return {"id": taxonomy_id, "version": version, "nodes": [_node(taxonomy, n) for n in taxonomy.children()]}


@router.get("/green/factors", summary="The emission-factor library: each factor's id, value, unit, year, source")
def list_factors(
    party: CurrentParty,
    version: Annotated[str, Query(max_length=40)] = DEFAULT_VERSION,
    activity: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    del party
    try:
        library = FactorLibrary.load(version)
    except FactorNotFound as exc:
        raise ApiProblem(404, "not_found", str(exc)) from None
    factors = [f.to_json() for f in library.factors.values() if activity is None or f.activity == activity]
    return {
        "version": library.version,
        "digest": library.digest(),
        "versions": list(FactorLibrary.available_versions()),
        "data": sorted(factors, key=lambda f: str(f["id"])),
    }


@router.post(
    "/green/labels", response_model=Accepted, status_code=201, summary="A certifier labels a subject (green.label)"
)
async def post_label(
    request: Request, response: Response, platform: PlatformDep, party: CurrentParty, payload: SignedCommandIn
) -> Accepted:
    accepted = await commands.run(request, platform, party, payload, "green.label")
    response.headers["Location"] = f"/v1/green/labels?subject_id={accepted.effects['label']['subject']['id']}"
    return Accepted(**accepted.as_json())


@router.post(
    "/green/labels/{label_id}/revoke",
    response_model=Accepted,
    status_code=201,
    summary="The certifier withdraws a label (green.label.revoke)",
)
async def revoke_label(
    request: Request, platform: PlatformDep, party: CurrentParty, payload: SignedCommandIn, label_id: str
) -> Accepted:
    accepted = await commands.run(request, platform, party, payload, "green.label.revoke", label_id=label_id)
    return Accepted(**accepted.as_json())


@router.get("/green/labels", summary="Green labels visible to you; filters `subject_id`, `taxonomy`")
def list_labels(
    platform: PlatformDep,
    party: CurrentParty,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    taxonomy: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    return {"data": platform.green.labels(party, subject_id=subject_id, taxonomy=taxonomy)}


@router.get("/green/totals", summary="Your disbursed green financing, totalled by taxonomy edition and category")
def green_totals(
    platform: PlatformDep, party: CurrentParty, taxonomy: Annotated[str | None, Query(max_length=40)] = None
) -> dict[str, Any]:
    return {"data": platform.green.totals(party, taxonomy=taxonomy)}


@router.post(
    "/financings/{financing_id}/kpi-certifications",
    response_model=Accepted,
    status_code=201,
    summary="A certifier confirms a KPI observation of a sustainability-linked financing (green.kpi.certify)",
)
async def certify_kpi(
    request: Request, platform: PlatformDep, party: CurrentParty, payload: SignedCommandIn, financing_id: str
) -> Accepted:
    accepted = await commands.run(request, platform, party, payload, "green.kpi.certify", financing_id=financing_id)
    return Accepted(**accepted.as_json())


@router.get("/financings/{financing_id}/sustainability", summary="A financing's sustainability-linked terms and KPIs")
def get_sustainability(platform: PlatformDep, party: CurrentParty, financing_id: str) -> dict[str, Any]:
    return platform.green.sustainability(party, financing_id)


@router.post(
    "/green/esg",
    summary="The HKEX ESG KPI table from the inputs in the body (`format` json, csv or html); nothing is stored",
    response_class=Response,
)
async def post_esg(
    request: Request, party: CurrentParty, format: Annotated[str, Query(pattern="^(json|csv|html)$")] = "json"
) -> Response:
    del party
    raw = await request.body()
    if len(raw) > MAX_INPUTS:
        raise ApiProblem(413, "payload_too_large", "ESG inputs are at most 2 MiB.")
    try:
        data = json.loads(raw, parse_float=_no_float)
        table = build_table(parse_inputs(data))
    except json.JSONDecodeError as exc:
        raise ApiProblem(400, "invalid_command", f"The inputs are not JSON: {exc}.") from None
    except (EsgInputError, DomainError, ValueError) as exc:
        raise ApiProblem(400, "invalid_command", f"The ESG inputs do not hold: {exc}") from None
    if format == "csv":
        return Response(render_csv(table), media_type="text/csv; charset=utf-8")
    if format == "html":
        return Response(render_html(table, f"ESG KPIs {table.year}"), media_type="text/html; charset=utf-8")
    return Response(json.dumps(table_to_dict(table)), media_type="application/json")


def _no_float(raw: str) -> Any:
    raise EsgInputError(f"write the number {raw} as a string: binary floats would change the figures")
