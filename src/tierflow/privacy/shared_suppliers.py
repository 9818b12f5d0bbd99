"""Shared suppliers: a bank and a core enterprise find the suppliers they both finance or buy from, and the overlap
of their exposures to them, without revealing their supplier lists.

Design: one PSI run in the ``PAYLOAD`` variant (``tierflow.privacy.psi``). The bank is the initiator; its items are
its suppliers' USCCs. The core enterprise is the responder; its items are its suppliers' USCCs, each with its
exposure (a non-negative decimal amount in the job's currency, as ASCII text padded to ``MAX_PAYLOAD_BYTES``) as
payload. The bank learns exactly: the set of shared USCCs and the core enterprise's exposure to each of them. The
core enterprise learns nothing beyond the public parameters (job id, the declared maximum list size of each side).
The bank's own exposures never leave the bank; ``combine`` pairs them with the received ones locally and reports
both totals over the shared suppliers and the overlap ``Σ min(bank, core)``. Neither side learns the other's
non-shared suppliers or their number (lists are padded to the declared maxima).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from tierflow.domain.documents import uscc_problem
from tierflow.privacy.psi import Item, PsiParams, PsiParty, PsiResult, Role, Variant
from tierflow.privacy.psi import run_in_memory as run_psi_in_memory
from tierflow.privacy.transport import InMemoryNetwork

PROTOCOL = "shared-suppliers"
MAX_PAYLOAD_BYTES = 40
"""An exposure travels as its decimal text; 40 bytes hold any realistic amount with its fraction."""


def normalise_uscc(code: str) -> str:
    """Upper case without spaces; raises ``ValueError`` if not a valid GB 32100-2015 code."""
    cleaned = "".join(code.split()).upper()
    problem = uscc_problem(cleaned)
    if problem is not None:
        raise ValueError(f"invalid USCC {code!r}: {problem}")
    return cleaned


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "").replace("_", ""))
    except InvalidOperation as exc:
        raise ValueError(f"invalid exposure {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"exposure must be a finite non-negative amount, got {text!r}")
    return value


def encode_amount(value: Decimal) -> bytes:
    data = format(value, "f").encode("ascii")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"exposure {value} does not fit in {MAX_PAYLOAD_BYTES} bytes")
    return data


def parse_exposures(text: str) -> dict[str, Decimal]:
    """CSV rows ``uscc,exposure`` (an optional header row starting with ``uscc``); repeated USCCs are summed."""
    exposures: dict[str, Decimal] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if row[0].strip().lower() == "uscc":
            continue
        if len(row) != 2:
            raise ValueError(f"expected 'uscc,exposure', got {row!r}")
        code = normalise_uscc(row[0])
        exposures[code] = exposures.get(code, Decimal(0)) + _amount(row[1])
    return exposures


def load_exposures(path: Path) -> dict[str, Decimal]:
    return parse_exposures(path.read_text(encoding="utf-8"))


def params(job_id: str, bank: str, core: str, *, max_bank: int, max_core: int) -> PsiParams:
    return PsiParams(job_id, Variant.PAYLOAD, bank, core, max_bank, max_core, MAX_PAYLOAD_BYTES)


def bank_party(
    psi_params: PsiParams, exposures: Mapping[str, Decimal], *, signing_key: SigningKey, peer_key: VerifyKey
) -> PsiParty:
    """The bank's side: only its USCCs enter the protocol."""
    return PsiParty(psi_params, Role.INITIATOR, list(exposures), signing_key=signing_key, peer_key=peer_key)


def core_party(
    psi_params: PsiParams, exposures: Mapping[str, Decimal], *, signing_key: SigningKey, peer_key: VerifyKey
) -> PsiParty:
    """The core enterprise's side: its USCCs with their exposures as payloads."""
    payloads: dict[Item, bytes] = {code: encode_amount(value) for code, value in exposures.items()}
    return PsiParty(psi_params, Role.RESPONDER, [], signing_key=signing_key, peer_key=peer_key, payloads=payloads)


@dataclass(frozen=True)
class SharedSupplier:
    uscc: str
    own: Decimal
    theirs: Decimal


@dataclass(frozen=True)
class SharedSuppliers:
    """What the bank learns, combined with its own exposures."""

    suppliers: tuple[SharedSupplier, ...]

    @property
    def own_total(self) -> Decimal:
        return sum((s.own for s in self.suppliers), Decimal(0))

    @property
    def their_total(self) -> Decimal:
        return sum((s.theirs for s in self.suppliers), Decimal(0))

    @property
    def overlap(self) -> Decimal:
        """``Σ min(own, theirs)`` over the shared suppliers."""
        return sum((min(s.own, s.theirs) for s in self.suppliers), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {
            "shared": [{"uscc": s.uscc, "own": str(s.own), "theirs": str(s.theirs)} for s in self.suppliers],
            "count": len(self.suppliers),
            "own_total": str(self.own_total),
            "their_total": str(self.their_total),
            "overlap": str(self.overlap),
        }


def combine(own: Mapping[str, Decimal], result: PsiResult) -> SharedSuppliers:
    """The bank's result: each shared USCC with its own and the core enterprise's exposure."""
    if result.payloads is None:
        raise ValueError("a PAYLOAD result is needed")
    suppliers = []
    for item, payload in sorted(result.payloads.items()):
        code = item.decode("utf-8")
        suppliers.append(SharedSupplier(code, own[code], _amount(payload.decode("ascii"))))
    return SharedSuppliers(tuple(suppliers))


def run_in_memory(
    bank: Mapping[str, Decimal],
    core: Mapping[str, Decimal],
    *,
    max_bank: int | None = None,
    max_core: int | None = None,
    job_id: str = "shared-suppliers-local",
) -> tuple[SharedSuppliers, InMemoryNetwork]:
    """Both sides in one process (tests, demonstrations); returns the bank's result and the network with its tap."""
    bank_key, core_key = SigningKey.generate(), SigningKey.generate()
    psi_params = params(
        job_id, "bank", "core", max_bank=max_bank or max(1, len(bank)), max_core=max_core or max(1, len(core))
    )
    a = bank_party(psi_params, bank, signing_key=bank_key, peer_key=core_key.verify_key)
    b = core_party(psi_params, core, signing_key=core_key, peer_key=bank_key.verify_key)
    network = run_psi_in_memory(a, b)
    if a.result is None or b.result is not None:
        raise RuntimeError("unexpected PSI outcome")
    return combine(bank, a.result), network
