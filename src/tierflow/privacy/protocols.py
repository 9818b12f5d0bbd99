"""Node registrations of the multi-party protocols: ``secure-sum``, ``verify-claim`` and ``scope3-sum``.

Design: each protocol is a ``node.ProtocolSpec`` whose ``build`` turns the job descriptor (the same on every node:
job id, initiator, ordered participants, params) and the node's input file into that node's role, and whose
``render`` turns the finished role into the JSON result of the job. Roles are assigned by name in the params
(defaults in brackets); a node whose name has no input role reads no input file:

- ``secure-sum``: ``aggregator`` [the initiator] has no input; every other participant is a contributing party,
  in descriptor order. Params: ``length`` (vector length), ``bound`` (``|x| <= bound`` for every value),
  ``min_cohort`` [2], and optionally ``epsilon`` with ``sensitivity`` (discrete Laplace noise of scale
  ``sensitivity / epsilon``). A party's input file holds exactly ``length`` integers: a JSON array, or CSV/text
  with values separated by commas, spaces or line breaks (lines starting with ``#`` are ignored).
- ``verify-claim``: ``claimant`` and ``holder`` (required) and ``coordinator`` [the remaining participant]. Params:
  ``bits`` [64], ``absolute`` [0], ``relative`` [0] (a decimal or ``p/q``), ``basis`` [``claim``] or ``record``.
  The claimant's and the holder's input files hold one integer; the coordinator has no input.
- ``scope3-sum``: ``core`` [the initiator] is the aggregator; every other participant is a supplier. Params:
  ``min_cohort`` [3, never less], ``max_tco2e`` [1000000], and optionally ``epsilon`` and ``sensitivity_tco2e``
  [``max_tco2e``]. A supplier's input file holds one decimal number of tCO2e (``scope3``).

Params arrive as JSON values; decimals and fractions may be JSON numbers or strings. ``node.ProtocolSpec`` takes
a participant count; these protocols take "this many or more" (``more_allowed``). Errors raised while
reading an input never repeat input values: the node sends them to the other participants.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from nacl.signing import VerifyKey

from tierflow.privacy import scope3
from tierflow.privacy.logreg import Role as LogRegRole
from tierflow.privacy.logreg_ss import SSLogRegParams, SSLogRegParty
from tierflow.privacy.node import JobDescriptor, Node, ProtocolParty, ProtocolSpec, register_protocol
from tierflow.privacy.secure_sum import DifferentialPrivacy, SumAggregator, SumParams, SumParty
from tierflow.privacy.verify_claim import Basis, ClaimParams, ClaimParty, ClaimRole

SECURE_SUM = "secure-sum"
VERIFY_CLAIM = "verify-claim"
SCOPE3_SUM = scope3.PROTOCOL


# ----------------------------------------------------------------------------------------------------- params


def _int(params: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    if value is None:
        raise ValueError(f"parameter {name!r} is required")
    if type(value) is not int or value < 0:
        raise ValueError(f"parameter {name!r} must be a non-negative integer")
    return value


def _text(params: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = params.get(name, default)
    if not isinstance(value, str) or not value:
        raise ValueError(f"parameter {name!r} must be a party name" if default is None else f"bad {name!r}")
    return value


def _fraction(params: Mapping[str, Any], name: str) -> Fraction | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"parameter {name!r} must be a number or a fraction 'p/q'")
    try:
        result = Fraction(str(value)) if isinstance(value, float) else Fraction(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"parameter {name!r} must be a number or a fraction 'p/q'") from exc
    if result < 0:
        raise ValueError(f"parameter {name!r} must not be negative")
    return result


def _decimal(params: Mapping[str, Any], name: str) -> Decimal | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"parameter {name!r} must be a decimal number")
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"parameter {name!r} must be a decimal number") from exc
    if not result.is_finite() or result < 0:
        raise ValueError(f"parameter {name!r} must be a finite, non-negative decimal number")
    return result


def _member(descriptor: JobDescriptor, name: str, role: str) -> str:
    if name not in descriptor.participants:
        raise ValueError(f"the {role} {name!r} is not a participant of the job")
    return name


def _verify_keys(node: Node, names: Iterable[str]) -> dict[str, VerifyKey]:
    keys: dict[str, VerifyKey] = {}
    for name in names:
        peer = node.directory.parties.get(name)
        if peer is None:
            raise ValueError(f"participant {name!r} is not in this node's directory")
        keys[name] = peer.verify_key
    return keys


# ------------------------------------------------------------------------------------------------------ inputs


def parse_integers(text: str) -> list[int]:
    """Integers from a JSON array or from CSV/text (separated by commas, spaces or line breaks; ``#`` comments)."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            raw = json.loads(stripped)
        except json.JSONDecodeError:
            raise ValueError("input is not a valid JSON array") from None
        if not isinstance(raw, list) or not all(type(v) is int for v in raw):
            raise ValueError("input must be a JSON array of integers")
        return list(raw)
    values: list[int] = []
    for line in stripped.splitlines():
        if line.strip().startswith("#"):
            continue
        for token in line.replace(",", " ").split():
            try:
                values.append(int(token, 10))
            except ValueError:
                raise ValueError("every input value must be a base-10 integer") from None
    return values


def load_vector(path: Path, length: int) -> list[int]:
    values = parse_integers(path.read_text(encoding="utf-8"))
    if len(values) != length:
        raise ValueError(f"the input holds {len(values)} values, the job declares {length}")
    return values


def load_integer(path: Path) -> int:
    return load_vector(path, 1)[0]


# -------------------------------------------------------------------------------------------------- secure-sum


def secure_sum_params(descriptor: JobDescriptor) -> SumParams:
    params = descriptor.params
    aggregator = _member(descriptor, _text(params, "aggregator", descriptor.initiator), "aggregator")
    parties = tuple(p for p in descriptor.participants if p != aggregator)
    epsilon, sensitivity = _fraction(params, "epsilon"), params.get("sensitivity")
    if (epsilon is None) != (sensitivity is None):
        raise ValueError("'epsilon' and 'sensitivity' go together")
    dp = None if epsilon is None else DifferentialPrivacy(epsilon, _int(params, "sensitivity"))
    return SumParams(
        descriptor.job_id, aggregator, parties, _int(params, "length"), _int(params, "bound"),
        _int(params, "min_cohort", 2), dp,
    )  # fmt: skip


def _build_secure_sum(node: Node, descriptor: JobDescriptor, path: Path) -> ProtocolParty:
    params = secure_sum_params(descriptor)
    keys = _verify_keys(node, descriptor.participants)
    if node.name == params.aggregator:
        return SumAggregator(params, signing_key=node.key, verify_keys=keys)
    return SumParty(params, node.name, load_vector(path, params.length), signing_key=node.key, verify_keys=keys)


def _render_secure_sum(party: ProtocolParty, path: Path) -> Any:
    del path
    if not isinstance(party, SumParty | SumAggregator) or party.result is None:
        return None
    role = "aggregator" if isinstance(party, SumAggregator) else "party"
    result = party.result
    return {"role": role, "total": result.total.tolist(), "contributors": result.contributors, "noised": result.noised}


# ------------------------------------------------------------------------------------------------ verify-claim


def verify_claim_params(descriptor: JobDescriptor) -> ClaimParams:
    params = descriptor.params
    claimant = _member(descriptor, _text(params, "claimant"), "claimant")
    holder = _member(descriptor, _text(params, "holder"), "holder")
    rest = [p for p in descriptor.participants if p not in (claimant, holder)]
    if len(descriptor.participants) != 3 or len(rest) != 1:
        raise ValueError("verify-claim needs exactly three distinct participants: claimant, holder, coordinator")
    coordinator = _member(descriptor, _text(params, "coordinator", rest[0]), "coordinator")
    if coordinator != rest[0]:
        raise ValueError("the coordinator must be the participant that is neither claimant nor holder")
    basis = _text(params, "basis", Basis.CLAIM.value)
    if basis not in {b.value for b in Basis}:
        raise ValueError("parameter 'basis' must be 'claim' or 'record'")
    return ClaimParams(
        descriptor.job_id, claimant, holder, coordinator, _int(params, "bits", 64), _int(params, "absolute", 0),
        _fraction(params, "relative") or Fraction(0), Basis(basis),
    )  # fmt: skip


def _claim_role(params: ClaimParams, name: str) -> ClaimRole:
    if name == params.claimant:
        return ClaimRole.CLAIMANT
    return ClaimRole.HOLDER if name == params.holder else ClaimRole.COORDINATOR


def _build_verify_claim(node: Node, descriptor: JobDescriptor, path: Path) -> ProtocolParty:
    params = verify_claim_params(descriptor)
    role = _claim_role(params, node.name)
    value = None if role is ClaimRole.COORDINATOR else load_integer(path)
    keys = _verify_keys(node, descriptor.participants)
    return ClaimParty(params, role, value, signing_key=node.key, verify_keys=keys)


def _render_verify_claim(party: ProtocolParty, path: Path) -> Any:
    del path
    if not isinstance(party, ClaimParty) or party.result is None:
        return None
    params = party.params
    tolerance = {"absolute": params.absolute, "relative": str(params.relative), "basis": params.basis.value}
    return {"role": party.role.value, "within_tolerance": party.result, "bits": params.bits, "tolerance": tolerance}


# -------------------------------------------------------------------------------------------------- scope3-sum


def scope3_params(descriptor: JobDescriptor) -> scope3.Scope3Params:
    params = descriptor.params
    core = _member(descriptor, _text(params, "core", descriptor.initiator), "core enterprise")
    max_tco2e = _decimal(params, "max_tco2e")
    return scope3.Scope3Params(
        descriptor.job_id, core, tuple(p for p in descriptor.participants if p != core),
        _int(params, "min_cohort", scope3.DEFAULT_MIN_COHORT),
        scope3.DEFAULT_MAX_TCO2E if max_tco2e is None else max_tco2e,
        _fraction(params, "epsilon"), _decimal(params, "sensitivity_tco2e"),
    )  # fmt: skip


def _build_scope3(node: Node, descriptor: JobDescriptor, path: Path) -> ProtocolParty:
    params = scope3_params(descriptor)
    keys = _verify_keys(node, descriptor.participants)
    if node.name == params.core:
        return scope3.core_party(params, signing_key=node.key, verify_keys=keys)
    kg = scope3.load_emissions(path)
    return scope3.supplier_party(params, node.name, kg, signing_key=node.key, verify_keys=keys)


def _render_scope3(party: ProtocolParty, path: Path) -> Any:
    del path
    if not isinstance(party, SumParty | SumAggregator) or party.result is None:
        return None
    role = "core" if isinstance(party, SumAggregator) else "supplier"
    return {"role": role, **scope3.result_from(party.result, party.params.min_cohort).to_json()}


# ------------------------------------------------------------------------------------------- joint-logreg


JOINT_LOGREG = "joint-logreg"


def load_table(path: Path) -> list[list[float]]:
    """Rows of numbers from a CSV file (a header line is skipped); each row one record, in the agreed order."""
    rows: list[list[float]] = []
    for n, row in enumerate(csv.reader(io.StringIO(path.read_text(encoding="utf-8")))):
        if not row or row[0].startswith("#"):
            continue
        try:
            rows.append([float(v) for v in row])
        except ValueError:
            if n == 0:
                continue  # a header
            raise ValueError(f"row {n + 1} of the input is not numeric") from None
    if not rows or len({len(r) for r in rows}) != 1:
        raise ValueError("the input needs rows of the same number of columns")
    return rows


def joint_logreg_params(descriptor: JobDescriptor) -> SSLogRegParams:
    params = descriptor.params
    guest = _member(descriptor, _text(params, "guest"), "guest")
    host = _member(descriptor, _text(params, "host"), "host")
    rest = [p for p in descriptor.participants if p not in (guest, host)]
    if len(descriptor.participants) != 3 or len(rest) != 1:
        raise ValueError("joint-logreg needs exactly three participants: guest (labels), host, and the dealer")
    return SSLogRegParams(
        job_id=descriptor.job_id, guest=guest, host=host, dealer=rest[0], rows=_int(params, "rows"),
        guest_features=_int(params, "guest_features"), host_features=_int(params, "host_features"),
        epochs=_int(params, "epochs", 5), batch_size=_int(params, "batch_size", 0),
        learning_rate=float(_text(params, "learning_rate", "0.15")),
    )  # fmt: skip


def _build_joint_logreg(node: Node, descriptor: JobDescriptor, path: Path) -> ProtocolParty:
    import numpy as np

    p = joint_logreg_params(descriptor)
    keys = _verify_keys(node, [x for x in descriptor.participants if x != node.name])
    if node.name == p.guest:
        table = np.asarray(load_table(path))  # first column: the label (0 or 1), then the guest's features
        if table.shape != (p.rows, p.guest_features + 1):
            raise ValueError("the guest's input must have rows x (1 label + guest_features) numbers")
        return SSLogRegParty(p, LogRegRole.GUEST, signing_key=node.key, peer_keys=keys, features=table[:, 1:],
                             labels=table[:, 0])  # fmt: skip
    if node.name == p.host:
        table = np.asarray(load_table(path))
        if table.shape != (p.rows, p.host_features):
            raise ValueError("the host's input must have rows x host_features numbers")
        return SSLogRegParty(p, LogRegRole.HOST, signing_key=node.key, peer_keys=keys, features=table)
    return SSLogRegParty(p, LogRegRole.ARBITER, signing_key=node.key, peer_keys=keys)


def _render_joint_logreg(party: ProtocolParty, path: Path) -> Any:
    del path
    if not isinstance(party, SSLogRegParty) or party.result is None:
        return None
    result = party.result
    return {
        "weights": None if result.weights is None else [float(w) for w in result.weights],
        "intercept": result.intercept,
    }


register_protocol(ProtocolSpec(SECURE_SUM, _build_secure_sum, _render_secure_sum, 3, more_allowed=True))
register_protocol(ProtocolSpec(VERIFY_CLAIM, _build_verify_claim, _render_verify_claim, 3))
register_protocol(
    ProtocolSpec(SCOPE3_SUM, _build_scope3, _render_scope3, scope3.MIN_COHORT_FLOOR + 1, more_allowed=True)
)
register_protocol(ProtocolSpec(JOINT_LOGREG, _build_joint_logreg, _render_joint_logreg, 3))
