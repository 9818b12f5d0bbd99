"""Footprint roll-up: hand-computed graphs, agreement with Brightway (bw2calc), updates, errors, Decimal boundary."""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pytest

from tierflow.green.rollup import (
    InvalidSupplyGraph,
    SingularSupplyGraph,
    SupplyGraph,
    decimal_strings,
    rollup,
)


def test_chain() -> None:
    graph = SupplyGraph.from_edges(["car", "tyre", "rubber"], [("car", "tyre", 4), ("tyre", "rubber", 2)])
    result = rollup(graph, {"car": 100, "tyre": 5, "rubber": 1})
    assert result.as_dict() == pytest.approx({"car": 100 + 4 * (5 + 2), "tyre": 7, "rubber": 1})
    assert result.method == "lu" and result.residual <= result.tolerance


def test_diamond() -> None:
    edges = [("a", "b", 1), ("a", "c", 2), ("b", "d", 3), ("c", "d", 0.5)]
    result = rollup(SupplyGraph.from_edges("abcd", edges), [1, 1, 1, 1])
    assert result.as_dict() == pytest.approx({"a": 1 + 4 + 2 * 1.5, "b": 4, "c": 1.5, "d": 1})


def test_cycle_and_self_loop() -> None:
    # f_a = 1 + 0.5 f_b, f_b = 2 + 0.4 f_a + 0.2 f_b  ->  f_a = 3, f_b = 4
    graph = SupplyGraph.from_edges("ab", [("a", "b", 0.5), ("b", "a", 0.4), ("b", "b", 0.2)])
    for block in (64, 1):  # whole-component LU, and the iterative splitting
        result = rollup(graph, [1, 2], max_block=block)
        assert result.footprints == pytest.approx([3.0, 4.0], rel=1e-12)
    assert rollup(graph, [1, 2], max_block=1).method in ("lu-splitting", "gmres")


def _random_graph(rng: np.random.Generator, n: int, cycles: bool) -> tuple[SupplyGraph, np.ndarray]:
    rows, cols = np.nonzero(np.triu(rng.random((n, n)) < 0.3, k=1))
    if cycles:
        back = rng.random(rows.size) < 0.2
        rows, cols = np.concatenate([rows, cols[back]]), np.concatenate([cols, rows[back]])
    quantities = rng.uniform(0.01, 2.0, rows.size)
    if cycles:  # keep the spectral radius below 1: row sums below 1
        quantities /= 1.2 * max(1.0, np.bincount(rows, quantities, n).max())
    ids = [f"n{i}" for i in range(n)]
    return SupplyGraph.from_arrays(ids, rows, cols, quantities), rng.uniform(0.1, 10.0, n)


def _bw2calc_scores(graph: SupplyGraph, own: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import bw2calc
        import bw_processing as bwp

    n = graph.size
    q = graph.matrix.tocoo()
    ids = np.arange(1, n + 1)  # Brightway ids: activities 1..n, one biosphere flow n + 1
    tech = np.array(
        [(i, i) for i in ids] + [(ids[c], ids[r]) for r, c in zip(q.row, q.col, strict=True)], dtype=bwp.INDICES_DTYPE
    )
    tech_values = np.concatenate([np.ones(n), q.data])
    tech_flip = np.concatenate([np.zeros(n, dtype=bool), np.ones(q.nnz, dtype=bool)])
    diagonal = q.diagonal()  # self-loops: production 1 - q on the diagonal
    tech_values[:n] -= diagonal
    keep = np.concatenate([np.ones(n, dtype=bool), q.row != q.col])
    dp = bwp.create_datapackage()
    dp.add_persistent_vector(
        matrix="technosphere_matrix",
        indices_array=tech[keep],
        data_array=tech_values[keep],
        flip_array=tech_flip[keep],
        name="technosphere",
    )
    flow = n + 1
    dp.add_persistent_vector(
        matrix="biosphere_matrix",
        indices_array=np.array([(flow, i) for i in ids], dtype=bwp.INDICES_DTYPE),
        data_array=own,
        name="biosphere",
    )
    dp.add_persistent_vector(
        matrix="characterization_matrix",
        indices_array=np.array([(flow, 0)], dtype=bwp.INDICES_DTYPE),
        data_array=np.array([1.0]),
        global_index=0,
        name="characterization",
    )
    lca = bw2calc.LCA(demand={int(ids[0]): 1}, data_objs=[dp])
    lca.lci()
    lca.lcia()
    scores = []
    for i in ids:
        lca.lci(demand={int(i): 1})
        lca.lcia()
        scores.append(lca.score)
    return np.array(scores)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cycles", [False, True])
def test_agrees_with_bw2calc(seed: int, cycles: bool) -> None:
    rng = np.random.default_rng(seed)
    graph, own = _random_graph(rng, 12, cycles)
    expected = _bw2calc_scores(graph, own)
    for block in (64, 1):
        result = rollup(graph, own, max_block=block)
        np.testing.assert_allclose(result.footprints, expected, rtol=1e-9)


def test_agrees_with_dense_solve_on_a_larger_graph() -> None:
    rng = np.random.default_rng(11)
    graph, own = _random_graph(rng, 300, cycles=True)
    expected = np.linalg.solve(np.eye(300) - graph.matrix.toarray(), own)
    assert rollup(graph, own).footprints == pytest.approx(expected, rel=1e-10)
    result = rollup(graph, own, max_block=4)
    assert result.largest_component > 4 and result.method != "lu"
    assert result.footprints == pytest.approx(expected, rel=1e-7)


def test_singular_and_near_singular() -> None:
    loop = SupplyGraph.from_edges("ab", [("a", "b", 2), ("b", "a", 0.5)])  # the loop returns exactly 1 unit
    beyond = SupplyGraph.from_edges("abc", [("a", "b", 2), ("b", "c", 1), ("c", "a", 0.6)])
    near = SupplyGraph.from_edges("ab", [("a", "b", 2), ("b", "a", 0.5 - 1e-14)])
    for graph in (loop, beyond, near):
        for block in (64, 1):
            with pytest.raises(SingularSupplyGraph):
                rollup(graph, [1] * graph.size, max_block=block)
    assert rollup(near, [1, 1], max_amplification=1e15).footprints[0] > 1e13


def test_invalid_input() -> None:
    with pytest.raises(InvalidSupplyGraph, match="unknown"):
        SupplyGraph.from_edges("ab", [("a", "x", 1)])
    with pytest.raises(InvalidSupplyGraph, match="≥ 0"):
        SupplyGraph.from_edges("ab", [("a", "b", -1)])
    with pytest.raises(InvalidSupplyGraph, match="finite"):
        SupplyGraph.from_edges("ab", [("a", "b", float("nan"))])
    with pytest.raises(InvalidSupplyGraph, match="finite"):
        SupplyGraph.from_edges("ab", [("a", "b", Decimal("Infinity"))])
    with pytest.raises(InvalidSupplyGraph, match="own product"):
        SupplyGraph.from_edges("ab", [("a", "a", 1)])
    with pytest.raises(InvalidSupplyGraph, match="duplicate"):
        SupplyGraph.from_edges("ab", [("a", "b", 1), ("a", "b", 2)])
    with pytest.raises(InvalidSupplyGraph, match="repeated"):
        SupplyGraph.from_edges("aab", [])
    with pytest.raises(InvalidSupplyGraph, match="range"):
        SupplyGraph.from_arrays("ab", [0], [2], [1.0])
    summed = SupplyGraph.from_edges("ab", [("a", "b", 1), ("a", "b", 2)], duplicates="sum")
    assert summed.inputs("a") == {"b": 3.0}
    graph = SupplyGraph.from_edges("ab", [("a", "b", 1)])
    with pytest.raises(InvalidSupplyGraph, match="missing"):
        rollup(graph, {"a": 1})
    with pytest.raises(InvalidSupplyGraph, match="unknown"):
        rollup(graph, {"a": 1, "b": 1, "c": 1})
    with pytest.raises(InvalidSupplyGraph, match="expected 2"):
        rollup(graph, [1.0])
    with pytest.raises(InvalidSupplyGraph, match="finite"):
        rollup(graph, [1.0, float("inf")])
    with pytest.raises(InvalidSupplyGraph, match="own product"):
        graph.with_inputs("a", {"a": 1.5})


@pytest.mark.parametrize("block", [64, 1])
def test_updates_equal_a_full_resolve(block: int) -> None:
    rng = np.random.default_rng(5)
    graph, own = _random_graph(rng, 60, cycles=True)
    result = rollup(graph, own, max_block=block, max_updates=4)
    for step in range(10):
        node = graph.ids[int(rng.integers(60))]
        if step % 2:
            result = result.with_own_emissions(node, Decimal(str(round(rng.uniform(0, 5), 3))))
        else:
            inputs = {s: q * rng.uniform(0.5, 1.5) for s, q in result.graph.inputs(node).items()}
            inputs[graph.ids[int(rng.integers(60))]] = 0.01
            result = result.with_inputs(node, inputs)
        fresh = rollup(result.graph, result.own_emissions)
        assert result.footprints == pytest.approx(fresh.footprints, rel=1e-10)
        assert result.residual <= result.tolerance
        assert result.amplification == pytest.approx(fresh.amplification, rel=1e-10)
    assert result.updates < 10  # re-factorised after max_updates row updates


def test_row_update_that_makes_the_graph_singular_is_refused() -> None:
    graph = SupplyGraph.from_edges("ab", [("a", "b", 2), ("b", "a", 0.1)])
    result = rollup(graph, [1, 1])
    with pytest.raises(SingularSupplyGraph):
        result.with_inputs("b", {"a": 0.5})
    assert result.with_inputs("b", {"a": 0.25}).footprint("a") == pytest.approx(6.0)


def test_decimal_boundary() -> None:
    graph = SupplyGraph.from_edges("ab", [("a", "b", Decimal("0.1")), ("b", "a", "0.2")])
    result = rollup(graph, {"a": Decimal("1.5"), "b": "2.25"})
    assert result.footprints.dtype == np.float64
    expected_a = (1.5 + 0.1 * 2.25) / (1 - 0.02)
    assert result.footprint("a") == pytest.approx(expected_a, rel=1e-14)
    assert result.decimal_footprints(4) == {"a": "1.760", "b": "2.602"}
    assert decimal_strings([123456789.0, 0.000123456789, 0.0, 2.5], 3) == ["123000000", "0.000123", "0", "2.5"]
    assert decimal_strings([2.25, 2.35], 2) == ["2.2", "2.4"]  # half-even on the exact binary value
    with pytest.raises(InvalidSupplyGraph, match="boolean"):
        rollup(graph, [True, 1])


def test_empty_graph_and_zero_emissions() -> None:
    assert rollup(SupplyGraph.from_edges([], []), []).footprints.size == 0
    result = rollup(SupplyGraph.from_edges("ab", [("a", "b", 1)]), [0, 0])
    assert result.footprints.tolist() == [0.0, 0.0] and result.residual == 0.0
