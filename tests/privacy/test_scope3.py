"""Scope 3 across suppliers in memory: the core enterprise's total equals the plaintext sum, no supplier's figure
is on the wire, and below the minimum cohort nothing is released."""

from __future__ import annotations

import base64
import hashlib
import json
from decimal import Decimal
from fractions import Fraction

import pytest
from nacl.signing import SigningKey

from tierflow.privacy import scope3
from tierflow.privacy.messages import ProtocolAbort
from tierflow.privacy.secure_sum import run_in_memory as run_sum_in_memory
from tierflow.privacy.transport import InMemoryNetwork

FIGURES = {"supplier-a": "1234.5678", "supplier-b": "0.0005", "supplier-c": "98765.4321", "supplier-d": "17"}


def test_total_equals_plaintext_and_is_a_category_1_figure() -> None:
    core, suppliers, _ = scope3.run_in_memory(FIGURES)
    expected = scope3.plaintext_total_kg(FIGURES.values())
    assert expected == 1_234_568 + 0 + 98_765_432 + 17_000  # kg, each rounded half to even
    assert core.total_kg == expected and core.suppliers == 4 and not core.noised
    assert core.total_tco2e == Decimal("100017.000")
    assert all(result == core for result in suppliers.values())  # suppliers learn the released total
    figure = core.to_json()
    assert figure["scope"] == 3 and figure["category"] == 1 and figure["unit"] == "kgCO2e"
    assert figure["total_kgco2e"] == expected and figure["total_tco2e"] == "100017.000"
    assert figure["suppliers"] == 4 and figure["min_cohort"] == 3 and figure["noised"] is False


@pytest.mark.parametrize(
    ("text", "kg"),
    [("1", 1000), ("0.0004", 0), ("0.0005", 0), ("0.0015", 2), ("1.0025", 1002), ("2.5e1", 25000), (" 7.25 ", 7250)],
)
def test_tonnes_to_integer_kilograms_half_to_even(text: str, kg: int) -> None:
    assert scope3.tonnes_to_kg(text) == kg


@pytest.mark.parametrize("text", ["-1", "1,5", "12a", "NaN", "inf", ""])
def test_bad_figures_are_refused_without_repeating_them(text: str) -> None:
    with pytest.raises(ValueError) as info:
        scope3.tonnes_to_kg(text)
    assert not text.strip() or text.strip() not in str(info.value)


def test_input_file_holds_one_figure() -> None:
    assert scope3.parse_emissions("# Scope 1+2 attributable to the core, 2024\n\n1500.25\n") == 1_500_250
    with pytest.raises(ValueError, match="exactly one figure"):
        scope3.parse_emissions("1\n2\n")
    with pytest.raises(ValueError, match="exactly one figure"):
        scope3.parse_emissions("# nothing\n")


def _secrets(figures: dict[str, str]) -> list[bytes]:
    out: list[bytes] = []
    for text in figures.values():
        kg = scope3.tonnes_to_kg(text)
        for raw in (kg.to_bytes(8, "little", signed=True), str(kg).encode(), text.encode()):
            out += [raw, hashlib.sha256(raw).digest()]
    return out


def test_no_supplier_figure_on_the_wire() -> None:
    figures = {f"supplier-{i}": f"{31_415 + 7 * i}.{926 + i}" for i in range(5)}
    _, _, network = scope3.run_in_memory(figures)
    bodies = [base64.b64decode(json.loads(t.data)["body"]) for t in network.tap]
    assert {json.loads(t.data)["kind"] for t in network.tap} == {"key", "keys", "masked", "total"}
    for blob in [t.data for t in network.tap] + bodies:
        for secret in _secrets(figures):
            assert secret not in blob
            assert len(secret) < 6 or base64.b64encode(secret)[:-4] not in blob


def test_below_the_minimum_cohort_nothing_is_released() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        scope3.run_in_memory({"a": "1", "b": "2"}, min_cohort=2)  # two suppliers would learn each other's figure
    with pytest.raises(ValueError, match="minimum cohort"):
        scope3.run_in_memory({"a": "1", "b": "2"})
    with pytest.raises(ValueError, match="minimum cohort"):
        scope3.run_in_memory({"a": "1", "b": "2", "c": "3"}, min_cohort=4)


def test_a_missing_supplier_stalls_the_job_and_nothing_is_released() -> None:
    params = scope3.Scope3Params("job-drop", "core", ("a", "b", "c"))
    keys = {name: SigningKey.generate() for name in ("core", "a", "b", "c")}
    verify = {name: key.verify_key for name, key in keys.items()}
    core = scope3.core_party(params, signing_key=keys["core"], verify_keys=verify)
    present = [
        scope3.supplier_party(params, name, 1000, signing_key=keys[name], verify_keys=verify) for name in ("a", "b")
    ]
    network = InMemoryNetwork()
    with pytest.raises(ProtocolAbort, match="stalled"):
        run_sum_in_memory([core, *present], network)
    assert core.result is None and all(p.result is None for p in present)
    assert not any(json.loads(t.data)["kind"] in ("keys", "masked", "total") for t in network.tap)


def test_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="needs an epsilon"):
        scope3.Scope3Params("j", "core", ("a", "b", "c"), sensitivity_tco2e=Decimal(1))
    with pytest.raises(ValueError, match="1 kg"):
        scope3.Scope3Params("j", "core", ("a", "b", "c"), max_tco2e=Decimal("0.0001"))
    params = scope3.Scope3Params("j", "core", ("a", "b", "c"), max_tco2e=Decimal(10), epsilon=Fraction(1, 2))
    sum_params = params.sum_params()
    assert sum_params.length == 1 and sum_params.bound == 10_000 and sum_params.min_cohort == 3
    assert sum_params.dp is not None and sum_params.dp.l1_sensitivity == 10_000  # default: a whole supplier
    keys = {name: SigningKey.generate() for name in ("core", "a", "b", "c")}
    verify = {name: key.verify_key for name, key in keys.items()}
    with pytest.raises(ValueError, match="bound"):
        scope3.supplier_party(params, "a", 10_001, signing_key=keys["a"], verify_keys=verify)


def test_differential_privacy_noise_is_released_to_everyone_alike() -> None:
    figures = {"a": "10", "b": "20", "c": "30"}
    core, suppliers, _ = scope3.run_in_memory(figures, epsilon=Fraction(1000), sensitivity_tco2e=Decimal(1))
    assert core.noised and all(result == core for result in suppliers.values())
    assert abs(core.total_kg - 60_000) < 100  # noise scale 1 kg
