"""Scope 3 across suppliers: a core enterprise learns the sum of its suppliers' emissions attributable to it, and no
supplier's own figure.

Design: one secure-sum run (``tierflow.privacy.secure_sum``) of length 1. Each *supplier* holds its Scope 1 + 2
emissions attributable to the core enterprise (the supplier-specific method of GHG Protocol Scope 3 category 1,
"Purchased goods and services"), given in **tCO2e** as a decimal string and converted locally to an **integer
number of kgCO2e**: ``tCO2e × 1000``, rounded to the nearest kilogram with ties to even (``ROUND_HALF_EVEN``), so
each supplier's figure moves by at most 0.5 kg and the total by at most 0.5 kg per supplier. Negative figures are
refused. The *core enterprise* is the aggregator: it has no input and learns the total (exact, or with discrete
Laplace noise if differential privacy is configured) for the declared suppliers only if at least ``min_cohort``
of them (never fewer than 3) contribute; with fewer, ``Scope3Params`` refuses to start and nothing is sent. The
released total also reaches every supplier (the secure-sum protocol sends it to all contributors): a supplier
learns the released total and, by subtracting its own figure, the sum of the other suppliers' figures — which is
why two suppliers are never enough. Everything public — the job id, the core, the ordered suppliers, the
minimum cohort, the declared per-supplier maximum ``max_tco2e`` and the noise parameters — is bound into the
secure-sum protocol name, so participants that disagree on any of it abort on the first message.

Errors raised while reading or converting a supplier's figure never contain the figure: a node tells the other
participants why it could not set up a job.

``Scope3Result.to_json`` renders the outcome as a Scope 3 category 1 figure with the number of suppliers (plain
data: this package does not depend on the accounting package); ``plaintext_total_kg`` is the reference computation and
``run_in_memory`` runs the suppliers and the core in one process (tests, demonstrations).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from tierflow.privacy.secure_sum import DifferentialPrivacy, SumAggregator, SumParams, SumParty, SumResult
from tierflow.privacy.secure_sum import run_in_memory as run_sum_in_memory
from tierflow.privacy.transport import InMemoryNetwork

PROTOCOL = "scope3-sum"
INPUT_UNIT = "tCO2e"
UNIT = "kgCO2e"
KG_PER_TONNE = 1000
ROUNDING = ROUND_HALF_EVEN
MIN_COHORT_FLOOR = 3
"""With two suppliers each would learn the other's figure from the total: three is the least cohort accepted."""
DEFAULT_MIN_COHORT = 3
DEFAULT_MAX_TCO2E = Decimal(1_000_000)
"""Declared (public) maximum of one supplier's figure: 1 MtCO2e attributable to one customer."""
CATEGORY = 1
CATEGORY_NAME = "Purchased goods and services"
METHOD = "supplier-specific: suppliers' Scope 1 and 2 emissions allocated to the reporting company"


def tonnes_to_kg(value: str | Decimal | int) -> int:
    """A non-negative tCO2e figure (decimal string with a ``.`` fraction, ``Decimal`` or ``int``) as integer kgCO2e,
    rounded half to even. The error message never repeats the figure."""
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise TypeError("an emissions figure must be a decimal string, a Decimal or an int")
    if isinstance(value, str):
        text = value.strip()
        if "," in text:
            raise ValueError("an emissions figure must be a plain decimal number: no ',' (thousands or decimal comma)")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"an emissions figure must be a plain decimal number of {INPUT_UNIT}") from None
    amount = Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ValueError("an emissions figure must be a finite, non-negative number")
    return int((amount * KG_PER_TONNE).quantize(Decimal(1), rounding=ROUNDING))


def parse_emissions(text: str) -> int:
    """A supplier's input: one decimal number of tCO2e (lines that are empty or start with ``#`` are ignored)."""
    lines = [line.strip() for line in text.splitlines()]
    values = [line for line in lines if line and not line.startswith("#")]
    if len(values) != 1:
        raise ValueError(f"a supplier's input holds exactly one figure in {INPUT_UNIT}, found {len(values)} lines")
    return tonnes_to_kg(values[0])


def load_emissions(path: Path) -> int:
    """The figure of a supplier's input file, in integer kgCO2e."""
    return parse_emissions(path.read_text(encoding="utf-8"))


def plaintext_total_kg(figures: Iterable[str | Decimal | int]) -> int:
    """The reference computation: each figure converted (and rounded) as a supplier does, then added."""
    return sum(tonnes_to_kg(figure) for figure in figures)


def kg_to_tonnes(kg: int) -> Decimal:
    """Exact: integer kg as tonnes with three decimals."""
    return Decimal(kg).scaleb(-3)


@dataclass(frozen=True)
class Scope3Params:
    """The public parameters: every supplier and the core agree on them before a run."""

    job_id: str
    core: str
    suppliers: tuple[str, ...]
    min_cohort: int = DEFAULT_MIN_COHORT
    max_tco2e: Decimal = DEFAULT_MAX_TCO2E
    epsilon: Fraction | None = None
    sensitivity_tco2e: Decimal | None = None
    """L1 sensitivity of the noise, default ``max_tco2e``: one supplier's whole contribution stays hidden."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "suppliers", tuple(self.suppliers))
        object.__setattr__(self, "max_tco2e", Decimal(self.max_tco2e))
        if self.min_cohort < MIN_COHORT_FLOOR:
            raise ValueError(f"min_cohort must be at least {MIN_COHORT_FLOOR} suppliers")
        if self.max_kg < 1:
            raise ValueError("max_tco2e must be at least 0.001 (1 kg)")
        if self.sensitivity_tco2e is not None and self.epsilon is None:
            raise ValueError("a sensitivity needs an epsilon")
        self.sum_params()  # validates the cohort, distinct ids, the bound and the noise

    @property
    def max_kg(self) -> int:
        return tonnes_to_kg(self.max_tco2e)

    def dp(self) -> DifferentialPrivacy | None:
        if self.epsilon is None:
            return None
        sensitivity = self.max_kg if self.sensitivity_tco2e is None else tonnes_to_kg(self.sensitivity_tco2e)
        return DifferentialPrivacy(Fraction(self.epsilon), max(1, sensitivity))

    def sum_params(self) -> SumParams:
        return SumParams(self.job_id, self.core, self.suppliers, 1, self.max_kg, self.min_cohort, self.dp())


@dataclass(frozen=True)
class Scope3Result:
    """The released Scope 3 category 1 total (integer kgCO2e, noised if configured, never below 0)."""

    total_kg: int
    suppliers: int
    min_cohort: int
    noised: bool

    @property
    def total_tco2e(self) -> Decimal:
        return kg_to_tonnes(self.total_kg)

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": 3, "category": CATEGORY, "category_name": CATEGORY_NAME, "method": METHOD,
            "total_kgco2e": self.total_kg, "total_tco2e": str(self.total_tco2e), "unit": UNIT,
            "suppliers": self.suppliers, "min_cohort": self.min_cohort, "noised": self.noised,
        }  # fmt: skip


def result_from(released: SumResult, min_cohort: int) -> Scope3Result:
    """The Scope 3 figure from a secure-sum result. A noised total below zero is reported as 0 (post-processing:
    the privacy guarantee is unchanged)."""
    return Scope3Result(max(0, int(released.total[0])), released.contributors, min_cohort, released.noised)


def supplier_party(
    params: Scope3Params, supplier: str, kg: int, *, signing_key: SigningKey, verify_keys: Mapping[str, VerifyKey]
) -> SumParty:
    """A supplier's role: contributes its figure (integer kgCO2e), receives the released total."""
    return SumParty(params.sum_params(), supplier, [kg], signing_key=signing_key, verify_keys=verify_keys)


def core_party(params: Scope3Params, *, signing_key: SigningKey, verify_keys: Mapping[str, VerifyKey]) -> SumAggregator:
    """The core enterprise's role: no input; learns the total if the cohort is large enough."""
    return SumAggregator(params.sum_params(), signing_key=signing_key, verify_keys=verify_keys)


def run_in_memory(
    figures: Mapping[str, str | Decimal | int],
    *,
    core: str = "core",
    min_cohort: int = DEFAULT_MIN_COHORT,
    max_tco2e: Decimal = DEFAULT_MAX_TCO2E,
    epsilon: Fraction | None = None,
    sensitivity_tco2e: Decimal | None = None,
    job_id: str = "scope3-local",
) -> tuple[Scope3Result, dict[str, Scope3Result], InMemoryNetwork]:
    """Every supplier (``figures``: supplier → tCO2e) and the core in one process; returns the core's result, each
    supplier's result and the network with its tap. Raises ``ValueError`` below the minimum cohort, before any
    message exists."""
    params = Scope3Params(job_id, core, tuple(figures), min_cohort, max_tco2e, epsilon, sensitivity_tco2e)
    keys = {name: SigningKey.generate() for name in (core, *figures)}
    verify = {name: key.verify_key for name, key in keys.items()}
    aggregator = core_party(params, signing_key=keys[core], verify_keys=verify)
    suppliers = {
        name: supplier_party(params, name, tonnes_to_kg(figure), signing_key=keys[name], verify_keys=verify)
        for name, figure in figures.items()
    }
    network = run_sum_in_memory([aggregator, *suppliers.values()])
    if aggregator.result is None or any(s.result is None for s in suppliers.values()):
        raise RuntimeError("unexpected secure-sum outcome")
    received = {name: result_from(s.result, min_cohort) for name, s in suppliers.items() if s.result is not None}
    return result_from(aggregator.result, min_cohort), received, network
