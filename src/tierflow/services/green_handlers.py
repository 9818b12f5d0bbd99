"""Green-finance commands: a certifier's labels and KPI certifications, and sustainability-linked financing terms.

- ``green.label``: an accredited certifier (a party with the ``certifier`` role) labels an asset, project,
  enterprise or financing with an item of a taxonomy edition (``tierflow.green.taxonomy``), the criterion met and
  the evidence's hashes. The label is validated against that edition and kept as signed; it is a journal entry.
- ``green.label.revoke``: the certifier who issued a label withdraws it.
- ``green.kpi.certify``: a certifier confirms a KPI observation of a financing with sustainability-linked terms;
  the observation is assessed against the terms (``tierflow.green.sll``) on its value recomputed with the
  baseline's pinned emission factors, so a cut that comes only from a newer grid factor is not credited. When
  the financing is disbursed, its discount is priced at the base rate moved by the credited ratchet steps.

Sustainability-linked terms themselves arrive with ``financing.request`` (``sustainability_link``), parsed here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tierflow.domain.errors import DomainError, InvalidTransition, NotAuthorised
from tierflow.domain.model import Financing, Role
from tierflow.green import sll
from tierflow.green.labels import Evidence, GreenLabel, InvalidLabel, SubjectKind, validate
from tierflow.green.taxonomy import Taxonomy
from tierflow.services import commands as c
from tierflow.services.context import Context, Handler, Result
from tierflow.services.errors import InvalidCommand, NotFound
from tierflow.services.ports import KpiObservationRecord, LabelRecord

MAX_EVIDENCE = 20


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _decimal(value: object, name: str) -> Decimal:
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidCommand(f"'{name}' must be a decimal string such as \"0.27\".", field=name)
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise InvalidCommand(f"'{name}' is not a decimal number: {value!r}.", field=name) from None
    if not parsed.is_finite():
        raise InvalidCommand(f"'{name}' must be a finite number.", field=name)
    return parsed


def _date(value: object, name: str) -> date:
    if not isinstance(value, str):
        raise InvalidCommand(f"'{name}' must be a date (YYYY-MM-DD).", field=name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidCommand(f"'{name}' is not a date (YYYY-MM-DD): {value!r}.", field=name) from None


def _evidence(value: object) -> tuple[Evidence, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_EVIDENCE:
        raise InvalidCommand(
            f'\'evidence\' must list 1 to {MAX_EVIDENCE} documents as {{"description", "sha256"}}.', field="evidence"
        )
    out = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) != {"description", "sha256"}:
            raise InvalidCommand('Each evidence item is {"description", "sha256"}.', field="evidence")
        try:
            out.append(Evidence(str(item["description"])[:500], str(item["sha256"])))
        except InvalidLabel as exc:
            raise InvalidCommand(exc.message, field="evidence") from None
    return tuple(out)


def _certifier(ctx: Context) -> None:
    if ctx.require_actor().role is not Role.CERTIFIER:
        raise NotAuthorised("Only an accredited certifier signs green labels and KPI certifications.")


# --- labels --------------------------------------------------------------------------------------------


def _subject_exists(ctx: Context, kind: SubjectKind, subject_id: str) -> None:
    repo = ctx.repo
    found: object
    if kind is SubjectKind.FINANCING:
        found = repo.get_financing(subject_id)
    elif kind is SubjectKind.ASSET:
        found = repo.get_voucher(subject_id)
    elif kind is SubjectKind.ENTERPRISE:
        found = repo.get_party(subject_id)
    else:  # projects live outside the platform: their id is the certifier's reference
        found = subject_id
    if not found:
        raise NotFound(f"No {kind} {subject_id!r} on the platform.", subject_id=subject_id)


def label(ctx: Context) -> Result:
    _certifier(ctx)
    body = ctx.body
    try:
        kind = SubjectKind(c.text(body, "subject_kind", max_len=16))
    except ValueError:
        raise InvalidCommand(
            "'subject_kind' must be one of " + ", ".join(k.value for k in SubjectKind) + ".", field="subject_kind"
        ) from None
    subject_id = c.text(body, "subject_id", max_len=64)
    _subject_exists(ctx, kind, subject_id)
    taxonomy_id = c.text(body, "taxonomy", max_len=40)
    version = c.text(body, "version", max_len=20)
    code = c.text(body, "code", max_len=32)
    criterion_id = c.text(body, "criterion_id", max_len=64)
    valid_from = _date(body.get("valid_from"), "valid_from")
    valid_to = _date(body.get("valid_to"), "valid_to") if body.get("valid_to") is not None else None
    try:
        taxonomy = Taxonomy.load(taxonomy_id, version)
        criterion = taxonomy.leaf(code).criterion(criterion_id)
        made = GreenLabel(
            label_id=ctx.ids.one("lbl"),
            subject_kind=kind,
            subject_id=subject_id,
            taxonomy_id=taxonomy_id,
            taxonomy_version=version,
            item_code=code,
            criterion_id=criterion_id,
            criterion_text=criterion.text,
            evidence=_evidence(body.get("evidence")),
            certifier_id=ctx.actor_id,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        validate(made, taxonomy)
    except InvalidCommand:
        raise
    except DomainError as exc:
        raise InvalidCommand(exc.message, **exc.fields) from None
    record = made.record()
    ctx.repo.add_label(
        LabelRecord(
            id=made.label_id,
            subject_kind=kind.value,
            subject_id=subject_id,
            taxonomy_id=taxonomy_id,
            taxonomy_version=version,
            item_code=code,
            criterion_id=criterion_id,
            record=_canonical(record),
            certifier_id=ctx.actor_id,
            valid_from=valid_from,
            valid_to=valid_to,
            status="active",
        ),
        ctx.event_id,
    )
    concerns = {ctx.actor_id}
    if kind is SubjectKind.FINANCING:
        financing = ctx.repo.get_financing(subject_id)
        assert financing is not None
        concerns |= {financing.applicant, financing.financier}
    elif kind is SubjectKind.ENTERPRISE:
        concerns.add(subject_id)
    return Result({"label": record, "path": [n.code for n in taxonomy.path(code)]}, concerns)


def revoke_label(ctx: Context) -> Result:
    _certifier(ctx)
    label_id = c.text(ctx.body, "label_id", max_len=40)
    reason = c.text(ctx.body, "reason", max_len=1000)
    found = ctx.repo.get_label(label_id)
    if found is None or found.certifier_id != ctx.actor_id:
        raise NotFound(f"No label {label_id!r} issued by you.", label_id=label_id)
    if found.status != "active":
        raise InvalidTransition(f"Label {label_id} is already {found.status}.", label_id=label_id)
    ctx.repo.revoke_label(label_id, ctx.event_id)
    return Result({"label_id": label_id, "status": "revoked", "reason": reason}, {ctx.actor_id})


# --- sustainability-linked terms -----------------------------------------------------------------------


def parse_terms(value: object) -> tuple[sll.SllTerms, dict[str, Any]]:
    """The ``sustainability_link`` of a financing request, checked; returns the terms and their wire form."""
    if not isinstance(value, Mapping) or not {"kpis", "ratchet"} <= set(value):
        raise InvalidCommand(
            '\'sustainability_link\' is {"kpis": [...], "ratchet": {"met_bp", "missed_bp"}, '
            '"floor_rate"?, "verifiers"?}.',
            field="sustainability_link",
        )
    try:
        kpis = []
        raw_kpis = value["kpis"]
        if not isinstance(raw_kpis, list) or not 1 <= len(raw_kpis) <= 10:
            raise InvalidCommand("'sustainability_link.kpis' lists 1 to 10 KPIs.", field="sustainability_link")
        for k in raw_kpis:
            if not isinstance(k, Mapping):
                raise InvalidCommand("Each KPI is an object.", field="sustainability_link")
            pins = k.get("factor_pins")
            if not isinstance(pins, list) or not pins or not all(isinstance(p, str) for p in pins):
                raise InvalidCommand("A KPI pins its baseline emission factors by id.", field="factor_pins")
            kpis.append(
                sll.Kpi(
                    id=c.text(k, "id", max_len=64),
                    name=c.text(k, "name", max_len=200),
                    metric=c.text(k, "metric", max_len=200),
                    baseline_value=_decimal(k.get("baseline_value"), "baseline_value"),
                    baseline_year=c.integer(k, "baseline_year"),
                    target_value=_decimal(k.get("target_value"), "target_value"),
                    target_year=c.integer(k, "target_year"),
                    factor_pins=tuple(pins),
                    lower_is_better=c.optional_bool(k, "lower_is_better", default=True),
                )
            )
        ratchet_raw = value["ratchet"]
        if not isinstance(ratchet_raw, Mapping):
            raise InvalidCommand("'ratchet' is an object.", field="ratchet")
        ratchet = sll.Ratchet(
            met_bp=c.integer(ratchet_raw, "met_bp"),
            missed_bp=c.integer(ratchet_raw, "missed_bp") if "missed_bp" in ratchet_raw else 0,
            unverified_as_missed=c.optional_bool(ratchet_raw, "unverified_as_missed", default=False),
        )
        verifiers = value.get("verifiers", [])
        if not isinstance(verifiers, list) or not all(isinstance(v, str) for v in verifiers):
            raise InvalidCommand("'verifiers' lists certifier party ids.", field="verifiers")
        floor = _decimal(value.get("floor_rate", "0"), "floor_rate")
        terms = sll.SllTerms(tuple(kpis), ratchet, floor, frozenset(verifiers))
    except InvalidCommand:
        raise
    except DomainError as exc:
        raise InvalidCommand(exc.message, field="sustainability_link", **exc.fields) from None
    return terms, terms_json(terms)


def terms_json(terms: sll.SllTerms) -> dict[str, Any]:
    return {
        "kpis": [
            {
                "id": k.id,
                "name": k.name,
                "metric": k.metric,
                "baseline_value": str(k.baseline_value),
                "baseline_year": k.baseline_year,
                "target_value": str(k.target_value),
                "target_year": k.target_year,
                "factor_pins": list(k.factor_pins),
                "lower_is_better": k.lower_is_better,
            }
            for k in terms.kpis
        ],
        "ratchet": {
            "met_bp": terms.ratchet.met_bp,
            "missed_bp": terms.ratchet.missed_bp,
            "unverified_as_missed": terms.ratchet.unverified_as_missed,
        },
        "floor_rate": str(terms.floor_rate),
        "verifiers": sorted(terms.verifiers),
    }


def stored_terms(ctx: Context, financing_id: str) -> sll.SllTerms | None:
    raw = ctx.repo.sll_terms(financing_id)
    return None if raw is None else parse_terms(json.loads(raw))[0]


def assessment_from_json(data: Mapping[str, Any]) -> sll.KpiAssessment:
    return sll.KpiAssessment(
        kpi_id=str(data["kpi_id"]),
        year=int(data["year"]),
        outcome=sll.Outcome(str(data["outcome"])),
        credited_value=Decimal(str(data["credited_value"])),
        reported_value=Decimal(str(data["reported_value"])),
        factor_effect=Decimal(str(data["factor_effect"])),
        adjustment_bp=int(data["adjustment_bp"]),
        reason=str(data["reason"]),
    )


def effective_rate(ctx: Context, financing: Financing) -> tuple[Decimal, dict[str, Any] | None]:
    """The rate a financing is priced at: its base rate, moved by the credited KPI steps of its terms."""
    terms = stored_terms(ctx, financing.id)
    if terms is None:
        return financing.annual_rate, None
    assessments = [assessment_from_json(json.loads(o.assessment)) for o in ctx.repo.kpi_observations(financing.id)]
    rate = terms.adjusted_rate(financing.annual_rate, assessments)
    return rate, {
        "base_rate": str(financing.annual_rate),
        "rate": str(rate),
        "steps": [
            {"kpi_id": a.kpi_id, "year": a.year, "outcome": a.outcome.value, "bp": a.adjustment_bp} for a in assessments
        ],
    }


def certify_kpi(ctx: Context) -> Result:
    _certifier(ctx)
    body = ctx.body
    financing_id = c.text(body, "financing_id")
    financing = ctx.repo.get_financing(financing_id)
    if financing is None:
        raise NotFound(f"No financing {financing_id!r}.", financing_id=financing_id)
    terms = stored_terms(ctx, financing_id)
    if terms is None:
        raise InvalidTransition(
            f"Financing {financing_id} has no sustainability-linked terms.", financing_id=financing_id
        )
    factor_ids = body.get("factor_ids")
    if not isinstance(factor_ids, list) or not all(isinstance(f, str) for f in factor_ids):
        raise InvalidCommand("'factor_ids' lists the emission factors of the recomputed value.", field="factor_ids")
    observation = sll.KpiObservation(
        kpi_id=c.text(body, "kpi_id", max_len=64),
        year=c.integer(body, "year"),
        value=_decimal(body.get("value"), "value"),
        recomputed_with_baseline_factors=_decimal(
            body.get("value_with_baseline_factors"), "value_with_baseline_factors"
        ),
        factor_ids=tuple(factor_ids),
        certifier=ctx.actor_id,
        certified_at=ctx.at,
        evidence=_evidence(body.get("evidence")),
    )
    try:
        assessment = sll.assess(terms, observation)
    except DomainError as exc:
        raise InvalidCommand(exc.message, **exc.fields) from None
    if ctx.repo.kpi_observation_exists(financing_id, observation.kpi_id, observation.year):
        raise InvalidTransition(
            f"KPI {observation.kpi_id} of {financing_id} is already certified for {observation.year}.",
            financing_id=financing_id,
        )
    assessed = {
        "kpi_id": assessment.kpi_id,
        "year": assessment.year,
        "outcome": assessment.outcome.value,
        "credited_value": str(assessment.credited_value),
        "reported_value": str(assessment.reported_value),
        "factor_effect": str(assessment.factor_effect),
        "adjustment_bp": assessment.adjustment_bp,
        "reason": assessment.reason,
    }
    ctx.repo.add_kpi_observation(
        KpiObservationRecord(
            id=ctx.ids.one("kpi"),
            financing_id=financing_id,
            kpi_id=observation.kpi_id,
            year=observation.year,
            certifier_id=ctx.actor_id,
            observation=_canonical(
                {
                    "value": str(observation.value),
                    "value_with_baseline_factors": str(observation.recomputed_with_baseline_factors),
                    "factor_ids": list(observation.factor_ids),
                    "evidence": [{"description": e.description, "sha256": e.sha256} for e in observation.evidence],
                }
            ),
            outcome=assessment.outcome.value,
            adjustment_bp=assessment.adjustment_bp,
            assessment=_canonical(assessed),
        ),
        ctx.event_id,
    )
    rate, _ = effective_rate(ctx, financing)
    return Result(
        {
            "financing_id": financing_id,
            "assessment": assessed,
            "rate": str(rate),
            "base_rate": str(financing.annual_rate),
        },
        {ctx.actor_id, financing.applicant, financing.financier},
    )


GREEN_HANDLERS: dict[str, Handler] = {
    "green.label": label,
    "green.label.revoke": revoke_label,
    "green.kpi.certify": certify_kpi,
}
