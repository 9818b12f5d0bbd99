"""Green finance pages: the certifier's labels and KPI certifications, the bank's green totals, and what the
financing case shows of a financing's green labels and sustainability-linked terms.

- **Certifier** (``/portal/green``): the labels the certifier issued (subject, taxonomy item with its path of
  categories, criterion, evidence hashes, validity, status) each with a revoke form; a form to label a subject
  with a leaf item of a packaged taxonomy edition and one of its criteria, the evidence being a file whose SHA-256
  is computed here (the file itself is not kept) or a pasted SHA-256; and a form to certify a KPI of a financing
  with sustainability-linked terms, which shows the assessment the ledger made (met, missed, not certified, not
  due) and the rate it gives.
- **Institution** (``/portal/bank/green``): its disbursed green financing totalled by taxonomy edition, the
  level-1 categories as a bar chart and levels 1 to 3 as a table.
- **Case** (``case_green``): the sustainability-linked terms, their certifications and the effective rate, and
  the labels on the financing or its voucher, for the case page of the applicant and the institution.

Labels and certifications are signed commands (``green.label``, ``green.label.revoke``, ``green.kpi.certify``)
and the ledger decides. The terms a certifier checks a KPI against are read for that certifier only when the
terms accept any verifier or name it: what it certifies, and nothing of the financing's amounts or parties.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tierflow.bootstrap import Platform
from tierflow.domain.errors import DomainError, ErrorKind
from tierflow.domain.money import Money
from tierflow.green.sll import apply_ratchet
from tierflow.green.taxonomy import Taxonomy, TaxonomyNode, available
from tierflow.portal import charts
from tierflow.portal.access import BankArea, CertifierActor, CertifierArea, Viewer, platform_of
from tierflow.portal.actions import act
from tierflow.portal.forms import Field, FormProblem, LongField, ObjectId, ShortField, error_status, percent, today_of
from tierflow.portal.render import done, is_htmx, page
from tierflow.services.green_handlers import assessment_from_json

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)

BASE = "/portal/green"
MAX_EVIDENCE_FILE = 50 * 1024 * 1024
CHUNK = 1024 * 1024
SHA256 = re.compile(r"[0-9a-f]{64}")
DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

SUBJECT_KINDS: tuple[tuple[str, str], ...] = (
    ("asset", "Asset: a voucher on the platform (its voucher id)"),
    ("financing", "Financing: a financing on the platform (its financing id)"),
    ("enterprise", "Enterprise: a party on the platform (its party id)"),
    ("project", "Project: outside the platform (your own reference)"),
)
OUTCOMES: Mapping[str, str] = {
    "met": "Met",
    "missed": "Missed",
    "not_certified": "Not certified",
    "not_due": "Not due yet",
}
STATUS_NAMES: Mapping[str, str] = {
    "active": "Active",
    "revoked": "Revoked",
    "expired": "Expired",
    "pending": "Not yet valid",
}

QueryText = Annotated[str, Query(max_length=64)]
Upload = Annotated[UploadFile | None, File()]


# --- taxonomies -----------------------------------------------------------------------------------------------


def edition_key(taxonomy_id: str, version: str) -> str:
    return f"{taxonomy_id}@{version}"


def editions() -> list[dict[str, str]]:
    """The packaged taxonomy editions, for a select: key ``id@version`` and the edition's English name."""
    out = []
    for ref in sorted(available(), key=lambda r: (r.id, r.version)):
        taxonomy = Taxonomy.load(ref.id, ref.version)
        out.append({"key": edition_key(ref.id, ref.version), "id": ref.id, "version": ref.version,
                    "name": taxonomy.name_en})
    return out


def load_edition(key: str) -> Taxonomy | None:
    taxonomy_id, _, version = key.partition("@")
    try:
        return Taxonomy.load(taxonomy_id, version)
    except DomainError:
        return None


def item_groups(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """The edition's leaf items grouped by their level-1 and level-2 categories, in the edition's order."""
    groups: list[dict[str, Any]] = []
    for leaf in taxonomy.leaves():
        path = taxonomy.path(leaf.code)
        heads = path[: min(2, len(path) - 1)]
        label = " › ".join(f"{n.code} {n.name_en}" for n in heads) or "Items"
        name = f"{leaf.code} {leaf.name_en}"
        if len(path) > 3:
            name += f" (under {path[2].code} {path[2].name_en})"
        if leaf.provisional:
            name += " (provisional)"
        if not groups or groups[-1]["label"] != label:
            groups.append({"label": label, "items": []})
        groups[-1]["items"].append({"code": leaf.code, "name": name, "provisional": leaf.provisional})
    return groups


def _leaf(taxonomy: Taxonomy | None, code: str) -> TaxonomyNode | None:
    if taxonomy is None or code not in taxonomy.nodes:
        return None
    node = taxonomy.item(code)
    return node if node.is_leaf else None


def path_of(taxonomy_id: str, version: str, code: str) -> list[dict[str, Any]]:
    """The categories from level 1 down to ``code``, with their English names; empty when unknown."""
    try:
        path = Taxonomy.load(taxonomy_id, version).path(code)
        return [{"level": n.level, "code": n.code, "name": n.name_en} for n in path]
    except DomainError:
        return []


def _label_view(label: Mapping[str, Any], today: date) -> dict[str, Any]:
    status = str(label["status"])
    if status == "active":
        if label.get("valid_to") and str(label["valid_to"]) < today.isoformat():
            status = "expired"
        elif str(label["valid_from"]) > today.isoformat():
            status = "pending"
    taxonomy = label["taxonomy"]
    return {
        **label,
        "path": path_of(str(taxonomy["id"]), str(taxonomy["version"]), str(label["item_code"])),
        "state": status,
        "state_name": STATUS_NAMES.get(status, status),
    }


# --- reading form input ---------------------------------------------------------------------------------------


def _day(text: str, what: str, *, required: bool) -> date | None:
    value = text.strip()
    if not value:
        if required:
            raise FormProblem(f"Enter the {what} as YYYY-MM-DD.")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FormProblem(f"“{value[:20]}” is not a date: give the {what} as YYYY-MM-DD.") from None


def evidence_of(upload: UploadFile | None, pasted: str, description: str) -> tuple[dict[str, str], str | None]:
    """One piece of evidence: the SHA-256 of the uploaded file (read in chunks and dropped, never stored) or the
    SHA-256 pasted; when both are given they must agree. Returns the evidence and the hash computed from a file."""
    computed: str | None = None
    filename = ""
    if upload is not None and upload.filename:
        filename = upload.filename[:120]
        digest = hashlib.sha256()
        size = 0
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > MAX_EVIDENCE_FILE:
                raise FormProblem(
                    f"The file is larger than {MAX_EVIDENCE_FILE // (1024 * 1024)} MiB: compute its SHA-256 "
                    "yourself (for example with sha256sum) and paste it instead."
                )
            digest.update(chunk)
        if size == 0:
            raise FormProblem(f"The file {filename} is empty.")
        computed = digest.hexdigest()
    typed = pasted.strip().lower()
    if typed and not SHA256.fullmatch(typed):
        raise FormProblem("A SHA-256 is 64 hexadecimal digits (0-9, a-f); check the one you pasted.")
    if computed and typed and typed != computed:
        raise FormProblem(
            f"The file's SHA-256 is {computed}, not the one pasted: give only one, or the hash of that file."
        )
    sha256 = computed or typed
    if not sha256:
        raise FormProblem("Give the evidence: upload the document, or paste its SHA-256.")
    text = description.strip() or filename
    if not text:
        raise FormProblem("Describe the evidence (what the document is), such as “verification statement 2025”.")
    return {"description": text[:500], "sha256": sha256}, computed


def _decimal(text: str, what: str) -> str:
    value = text.strip()
    if not value:
        raise FormProblem(f"Enter the {what}, such as 0.27.")
    if not DECIMAL.fullmatch(value) or len(value) > 40:
        raise FormProblem(f"“{value[:40]}” is not a number: write the {what} as a plain decimal such as 0.27.")
    return value


def _year(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or not 1900 <= int(value) <= 2200:
        raise FormProblem("Enter the reporting year, such as 2025.")
    return int(value)


def _ids(text: str) -> list[str]:
    found: list[str] = []
    for part in re.split(r"[,\s]+", text):
        if part and part not in found:
            found.append(part)
    return found


# --- the certifier's page -------------------------------------------------------------------------------------


def terms_for_certifier(platform: Platform, viewer: Viewer, financing_id: str) -> dict[str, Any] | None:
    """The sustainability-linked terms of ``financing_id`` and the KPI years certified so far, when the terms
    accept this certifier (they name no verifiers, or name it); None otherwise."""
    if not financing_id:
        return None
    with platform.uow(read_only=True) as uow:
        financing = uow.repo.get_financing(financing_id)
        raw = uow.repo.sll_terms(financing_id) if financing is not None else None
        observations = uow.repo.kpi_observations(financing_id) if raw is not None else []
    if raw is None:
        return None
    terms: dict[str, Any] = json.loads(raw)
    verifiers = terms.get("verifiers") or []
    if verifiers and viewer.party.id not in verifiers:
        return None
    return {
        "financing_id": financing_id,
        "terms": terms,
        "certified": [{"kpi_id": o.kpi_id, "year": o.year, "outcome": o.outcome,
                       "outcome_name": OUTCOMES.get(o.outcome, o.outcome)} for o in observations],
    }


def kpi_form(platform: Platform, viewer: Viewer, given: Mapping[str, str]) -> dict[str, Any]:
    """The KPI form's state: the terms of the financing named (if the certifier may see them) and the fields,
    prefilled from the chosen KPI (its target year and pinned baseline factors) where not given."""
    form = {k: str(v) for k, v in given.items()}
    financing_id = form.get("financing_id", "").strip()
    loaded = terms_for_certifier(platform, viewer, financing_id)
    if loaded is not None:
        kpis = loaded["terms"]["kpis"]
        chosen = next((k for k in kpis if k["id"] == form.get("kpi_id")), kpis[0])
        form["kpi_id"] = chosen["id"]
        if not form.get("factor_ids"):
            form["factor_ids"] = ", ".join(chosen["factor_pins"])
        if not form.get("year"):
            form["year"] = str(chosen["target_year"])
    return {"financing_id": financing_id, "loaded": loaded, "form": form}


def _green_page(
    request: Request,
    viewer: Viewer,
    *,
    label_form: Mapping[str, str] | None = None,
    label_error: str | None = None,
    revoke_error: Mapping[str, str] | None = None,
    kpi: Mapping[str, str] | None = None,
    kpi_error: str | None = None,
    certified: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    platform = platform_of(request)
    today = today_of(platform)
    issued = [
        _label_view(label, today)
        for label in platform.green.labels(viewer.party)
        if label.get("certifier_id") == viewer.party.id
    ]
    form = dict(label_form or {})
    known = editions()
    form.setdefault("edition", known[0]["key"] if known else "")
    form.setdefault("valid_from", today.isoformat())
    return page(
        request,
        "green_certifier.html",
        viewer,
        status_code=status_code,
        nav="green",
        labels=issued,
        subject_kinds=SUBJECT_KINDS,
        editions=known,
        label_form=form,
        items=_items_view(form.get("edition", ""), form.get("code", ""), form.get("criterion_id", "")),
        label_error=label_error,
        revoke_error=dict(revoke_error or {}),
        kpi=kpi_form(platform, viewer, kpi or {}),
        kpi_error=kpi_error,
        certified=_certified_view(certified) if certified else None,
        max_file_mib=MAX_EVIDENCE_FILE // (1024 * 1024),
    )


def _items_view(edition: str, code: str, criterion_id: str = "") -> dict[str, Any]:
    taxonomy = load_edition(edition)
    leaf = _leaf(taxonomy, code)
    return {
        "edition": edition,
        "criterion_id": criterion_id,
        "groups": item_groups(taxonomy) if taxonomy else [],
        "code": code if leaf else "",
        "criteria": [{"id": c.id, "text": c.text} for c in leaf.criteria] if leaf else [],
        "path": [{"code": n.code, "name": n.name_en} for n in taxonomy.path(leaf.code)] if taxonomy and leaf else [],
    }


def _certified_view(effects: Mapping[str, Any]) -> dict[str, Any]:
    assessment = effects["assessment"]
    return {
        **effects,
        "outcome": assessment["outcome"],
        "outcome_name": OUTCOMES.get(str(assessment["outcome"]), str(assessment["outcome"])),
        "rate_percent": percent(effects["rate"]),
        "base_rate_percent": percent(effects["base_rate"]),
    }


@router.get("/green", response_class=HTMLResponse)
def certifier_home(
    request: Request,
    viewer: CertifierArea,
    edition: Annotated[str, Query(max_length=80)] = "",
    code: QueryText = "",
    financing_id: QueryText = "",
) -> Response:
    label_form = {"edition": edition, "code": code} if edition else {}
    return _green_page(request, viewer, label_form=label_form, kpi={"financing_id": financing_id})


@router.get("/green/items", response_class=HTMLResponse)
def label_items(
    request: Request,
    viewer: CertifierArea,
    edition: Annotated[str, Query(max_length=80)] = "",
    code: QueryText = "",
) -> Response:
    """The item and criterion selects of an edition (the htmx fragment behind the edition and item selects)."""
    if not is_htmx(request):
        return RedirectResponse(f"{BASE}?edition={edition}&code={code}#label-h", status_code=303)
    return page(request, "_green_items.html", viewer, items=_items_view(edition, code))


@router.get("/green/terms", response_class=HTMLResponse)
def kpi_terms(
    request: Request, viewer: CertifierArea, financing_id: QueryText = "", kpi_id: QueryText = ""
) -> Response:
    """The KPI form prefilled from the financing's terms (the htmx fragment behind "Load its terms")."""
    if not is_htmx(request):
        return RedirectResponse(f"{BASE}?financing_id={financing_id}#kpi-h", status_code=303)
    kpi = kpi_form(platform_of(request), viewer, {"financing_id": financing_id, "kpi_id": kpi_id})
    return page(request, "_green_kpi_form.html", viewer, kpi=kpi, kpi_error=None)


@router.post("/green/labels", response_class=HTMLResponse)
def label(
    request: Request,
    viewer: CertifierActor,
    subject_kind: ShortField = "",
    subject_id: ShortField = "",
    edition: Field = "",
    code: ShortField = "",
    criterion_id: ShortField = "",
    evidence_file: Upload = None,
    evidence_sha256: ShortField = "",
    evidence_description: Field = "",
    valid_from: ShortField = "",
    valid_to: ShortField = "",
) -> Response:
    form = {
        "subject_kind": subject_kind, "subject_id": subject_id.strip(), "edition": edition, "code": code,
        "criterion_id": criterion_id, "evidence_sha256": evidence_sha256.strip().lower(),
        "evidence_description": evidence_description, "valid_from": valid_from, "valid_to": valid_to,
    }
    try:
        if subject_kind not in {k for k, _ in SUBJECT_KINDS}:
            raise FormProblem("Choose what you label: an asset, a financing, an enterprise or a project.")
        if not form["subject_id"]:
            raise FormProblem("Enter the id of the subject you label.")
        taxonomy = load_edition(edition)
        if taxonomy is None:
            raise FormProblem("Choose a taxonomy edition.")
        leaf = _leaf(taxonomy, code)
        if leaf is None:
            raise FormProblem(f"Choose an item of {taxonomy.name_en} {taxonomy.ref.version} (a leaf of the edition).")
        if not criterion_id and len(leaf.criteria) == 1:
            criterion_id = leaf.criteria[0].id
        if criterion_id not in {c.id for c in leaf.criteria}:
            raise FormProblem(f"Choose the criterion of item {leaf.code} that the subject meets.")
        starts = _day(valid_from, "first day the label is valid", required=True)
        ends = _day(valid_to, "last day the label is valid", required=False)
        evidence, computed = evidence_of(evidence_file, evidence_sha256, evidence_description)
        if computed:
            form["evidence_sha256"] = computed  # a refusal below need not ask for the file again
        assert starts is not None
        body: dict[str, Any] = {
            "subject_kind": subject_kind,
            "subject_id": form["subject_id"],
            "taxonomy": taxonomy.ref.id,
            "version": taxonomy.ref.version,
            "code": leaf.code,
            "criterion_id": criterion_id,
            "evidence": [evidence],
            "valid_from": starts.isoformat(),
            **({"valid_to": ends.isoformat()} if ends else {}),
        }
        accepted = act(request, viewer, "green.label", body)
    except DomainError as error:
        status = {ErrorKind.NOT_FOUND: 404, ErrorKind.FORBIDDEN: 403}.get(error.kind) or error_status(error)
        return _green_page(request, viewer, label_form=form, label_error=error.message, status_code=status)
    return done(BASE, "labelled", accepted.event_id)


@router.post("/green/labels/{label_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, viewer: CertifierActor, label_id: ObjectId, reason: LongField = "") -> Response:
    try:
        if not reason.strip():
            raise FormProblem("Give the reason for revoking the label: it is kept with the revocation in the journal.")
        accepted = act(request, viewer, "green.label.revoke", {"label_id": label_id, "reason": reason.strip()[:1000]})
    except DomainError as error:
        if error.kind is ErrorKind.NOT_FOUND:
            raise
        return _green_page(
            request, viewer, revoke_error={"label_id": label_id, "message": error.message, "reason": reason},
            status_code=error_status(error),
        )
    return done(BASE, "label_revoked", accepted.event_id)


@router.post("/green/kpi", response_class=HTMLResponse)
def certify_kpi(
    request: Request,
    viewer: CertifierActor,
    financing_id: ShortField = "",
    kpi_id: ShortField = "",
    year: ShortField = "",
    value: ShortField = "",
    value_with_baseline_factors: ShortField = "",
    factor_ids: LongField = "",
    evidence_file: Upload = None,
    evidence_sha256: ShortField = "",
    evidence_description: Field = "",
) -> Response:
    form = {
        "financing_id": financing_id.strip(), "kpi_id": kpi_id, "year": year, "value": value,
        "value_with_baseline_factors": value_with_baseline_factors, "factor_ids": factor_ids,
        "evidence_sha256": evidence_sha256.strip().lower(), "evidence_description": evidence_description,
    }
    try:
        if not form["financing_id"]:
            raise FormProblem("Enter the id of the financing whose KPI you certify.")
        if not kpi_id.strip():
            raise FormProblem("Choose the KPI you certify.")
        factors = _ids(factor_ids)
        if not factors:
            raise FormProblem("List the emission factors of the recomputed value (the ones pinned at the baseline).")
        evidence, computed = evidence_of(evidence_file, evidence_sha256, evidence_description)
        if computed:
            form["evidence_sha256"] = computed
        body = {
            "financing_id": form["financing_id"],
            "kpi_id": kpi_id.strip(),
            "year": _year(year),
            "value": _decimal(value, "reported value"),
            "value_with_baseline_factors": _decimal(
                value_with_baseline_factors, "value recomputed with the baseline factors"
            ),
            "factor_ids": factors,
            "evidence": [evidence],
        }
        accepted = act(request, viewer, "green.kpi.certify", body)
    except DomainError as error:
        status = {ErrorKind.NOT_FOUND: 404, ErrorKind.FORBIDDEN: 403}.get(error.kind) or error_status(error)
        return _green_page(request, viewer, kpi=form, kpi_error=error.message, status_code=status)
    return _green_page(
        request, viewer, kpi={"financing_id": form["financing_id"], "kpi_id": form["kpi_id"]},
        certified={**accepted.effects, "event_id": accepted.event_id},
    )


# --- the institution's green totals --------------------------------------------------------------------------


def _code_key(path: Sequence[str]) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for code in path for p in code.split("."))


@router.get("/bank/green", response_class=HTMLResponse)
def bank_green(request: Request, viewer: BankArea) -> Response:
    rows = platform_of(request).green.totals(viewer.party)
    sections: list[dict[str, Any]] = []
    for key in sorted({(r["taxonomy"], r["version"]) for r in rows}):
        taxonomy_id, version = key
        mine = [r for r in rows if (r["taxonomy"], r["version"]) == key]
        try:
            taxonomy: Taxonomy | None = Taxonomy.load(taxonomy_id, version)
        except DomainError:
            taxonomy = None
        pictures = []
        for currency in sorted({str(r["currency"]) for r in mine}):
            top = [r for r in mine if r["level"] == 1 and r["currency"] == currency]
            chart = charts.category_bars(
                [charts.CategoryAmount(f"{r['code']} {r['name']}", Money.parse(str(r["amount"]), currency).minor,
                                       int(r["subjects"])) for r in top],
                currency,
                chart_id=f"green-{taxonomy_id}-{version}-{currency}".lower(),
                title=f"Green financing by level-1 category of {taxonomy_id} {version} ({currency})",
            )
            pictures.append({"currency": currency, "chart": chart})

        def order(row: Mapping[str, Any], tax: Taxonomy | None = taxonomy) -> tuple[Any, ...]:
            code = str(row["code"])
            codes = [n.code for n in tax.path(code)] if tax and code in tax.nodes else [code]
            return (_code_key(codes), row["currency"])

        table = sorted((r for r in mine if int(r["level"]) <= 3), key=order)
        sections.append({
            "id": taxonomy_id, "version": version, "name": taxonomy.name_en if taxonomy else taxonomy_id,
            "pictures": pictures, "rows": table,
        })
    return page(request, "bank_green.html", viewer, nav="bank_green", sections=sections)


# --- the case page's green part --------------------------------------------------------------------------------


def _bp(value: Any) -> str:
    bp = int(value)
    return f"{bp:+d} bp" if bp else "0 bp"


def case_green(platform: Platform, viewer: Viewer, financing_id: str) -> dict[str, Any]:
    """What the case page shows of green finance: the sustainability-linked terms (KPIs, ratchet, floor), each
    certification with its assessment, the effective rate against the base rate, and the labels on the
    financing or its voucher that the viewer may see."""
    green = platform.green
    found = green.sustainability(viewer.party, financing_id)
    terms = found["terms"]
    link: dict[str, Any] | None = None
    if terms is not None:
        certifications = found["certifications"]
        base = Decimal(str(found["base_rate"]))
        floor = Decimal(str(terms.get("floor_rate", "0")))
        rate = apply_ratchet(base, [assessment_from_json(c["assessment"]) for c in certifications], floor=floor)
        names = {}
        for party_id in {str(c["certifier"]) for c in certifications}:
            try:
                names[party_id] = str(platform.queries.party(viewer.party, party_id)["name"])
            except DomainError:
                names[party_id] = party_id
        link = {
            "kpis": terms["kpis"],
            "ratchet": {**terms["ratchet"], "met": _bp(terms["ratchet"]["met_bp"]),
                        "missed": _bp(terms["ratchet"].get("missed_bp", 0))},
            "floor_percent": percent(terms.get("floor_rate", "0")),
            "verifiers": terms.get("verifiers") or [],
            "certifications": [
                {
                    **c,
                    "certifier_name": names.get(str(c["certifier"]), c["certifier"]),
                    "outcome_name": OUTCOMES.get(str(c["assessment"]["outcome"]), str(c["assessment"]["outcome"])),
                    "step": _bp(c["assessment"]["adjustment_bp"]),
                }
                for c in certifications
            ],
            "base_percent": percent(base),
            "rate_percent": percent(rate),
            "moved": _bp(((rate - base) / Decimal("0.0001")).to_integral_value()),
        }
    subjects = [financing_id]
    try:
        voucher_id = str(platform.queries.financing(viewer.party, financing_id)["voucher_id"])
        subjects.append(voucher_id)
    except DomainError:
        pass
    today = today_of(platform)
    labels = [
        _label_view(label, today)
        for subject in subjects
        for label in green.labels(viewer.party, subject_id=subject)
        if label["subject"]["kind"] in ("financing", "asset")
    ]
    return {"link": link, "labels": labels}
