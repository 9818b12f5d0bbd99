"""Product footprint roll-up over a synthetic 100,000-supplier graph — ``tierflow.green.rollup``, in memory.

What this measures: building the ``SupplyGraph`` from arrays (validation, CSR), the full roll-up (ordering by
strongly connected components, factorisation, the solve for the footprints and for ``(I − Q)⁻¹ 1``, the
checks), the update after one supplier's own emission changes (``Rollup.with_own_emissions``) and after one
supplier's input quantities change (``Rollup.with_inputs``, Sherman–Morrison), each update from the same base
roll-up, over ``--updates`` random nodes. Generating the graph is not timed; nothing is read or written.

The population (seeded ``numpy`` generator): ``--nodes`` nodes in 7 tiers (3 % final products, then growing
tiers down to raw-material producers, which have no inputs); every other node has on average enough inputs for
``--edges-per-node`` edges per node overall, 80 % from the next tier and 20 % from two tiers down. Node ids are
shuffled. Quantities come from prices: each node has a unit value (falling by tier) and spends 30-90 % of it on
inputs, split at random, so ``q_ij = share · margin · value_i / value_j`` and the spectral radius of ``Q`` is at
most 0.9. Cycles: a share ``--back-share`` of edges gets a reverse edge (the supplier buys a little of its
customer's product, 5 % of the weight of a forward input): mutual-supply loops. At the default 0.2 % they stay
small (pairs, triangles); around 1 % they percolate into one component of tens of thousands of nodes, the case
the iterative path is for.

    python benchmarks/bench_rollup.py --json
    python benchmarks/bench_rollup.py --back-share 0.01 --json       # one giant supply cycle
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from _common import latency_summary, machine, percentile, report

from tierflow.green.rollup import SupplyGraph, rollup

TARGET_FULL_S = 1.0
TARGET_UPDATE_MS = 50.0
TIER_SHARES = (0.03, 0.06, 0.10, 0.15, 0.20, 0.22, 0.24)


def generate(nodes: int, edges_per_node: float, back_share: float, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    sizes = np.maximum(1, (np.asarray(TIER_SHARES) * nodes).astype(np.int64))
    sizes[-1] = nodes - sizes[:-1].sum()
    starts = np.concatenate([[0], np.cumsum(sizes)])
    tier = np.repeat(np.arange(sizes.size), sizes)
    with_inputs = int(starts[-2])
    per_node = max(edges_per_node * nodes / with_inputs - 1, 0)
    rows = np.repeat(np.arange(with_inputs), rng.poisson(per_node, with_inputs) + 1)
    skip = np.where(rng.random(rows.size) < 0.8, 1, 2)
    supplier_tier = np.minimum(tier[rows] + skip, sizes.size - 1)
    cols = starts[supplier_tier] + (rng.random(rows.size) * sizes[supplier_tier]).astype(np.int64)
    back = rng.random(rows.size) < back_share
    weight = np.concatenate([rng.uniform(0.2, 1.0, rows.size), 0.05 * rng.uniform(0.2, 1.0, int(back.sum()))])
    rows, cols = np.concatenate([rows, cols[back]]), np.concatenate([cols, rows[back]])
    key = np.unique(rows * nodes + cols, return_index=True)[1]  # drop repeated pairs
    rows, cols, weight = rows[key], cols[key], weight[key]
    value = 10 ** rng.uniform(0, 3, nodes) * 3.0 ** (-tier.astype(np.float64))
    share = weight / np.bincount(rows, weight, nodes)[rows]
    margin = rng.uniform(0.3, 0.9, nodes)
    quantity = share * margin[rows] * value[rows] / value[cols]
    shuffle = rng.permutation(nodes)
    return {
        "ids": [f"S{i:07d}" for i in range(nodes)],
        "rows": shuffle[rows],
        "cols": shuffle[cols],
        "quantity": quantity,
        "own": rng.uniform(0.1, 10.0, nodes),
        "final_products": int(sizes[0]),
        "tiers": sizes.tolist(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--edges-per-node", type=float, default=6.0)
    parser.add_argument("--back-share", type=float, default=0.002)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="full roll-ups timed (best and median reported)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    data = generate(args.nodes, args.edges_per_node, args.back_share, args.seed)
    t0 = time.perf_counter()
    graph = SupplyGraph.from_arrays(data["ids"], data["rows"], data["cols"], data["quantity"])
    build_s = time.perf_counter() - t0

    full: list[float] = []
    result = None
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        result = rollup(graph, data["own"])
        full.append(time.perf_counter() - t0)
    assert result is not None

    rng = np.random.default_rng(args.seed + 1)
    picks = rng.choice(graph.size, size=min(args.updates, graph.size), replace=False)
    own_s: list[float] = []
    own_res: list[float] = []
    own_err: list[float] = []
    inputs_s: list[float] = []
    inputs_res: list[float] = []
    inputs_err: list[float] = []
    checked = 0
    for n, k in enumerate(picks):
        node = graph.ids[int(k)]
        t0 = time.perf_counter()
        updated = result.with_own_emissions(node, float(data["own"][k]) * 1.5 + 1.0)
        own_s.append(time.perf_counter() - t0)
        own_res.append(updated.residual)
        inputs = {s: q * rng.uniform(0.5, 1.5) for s, q in graph.inputs(node).items()}
        t0 = time.perf_counter()
        changed = result.with_inputs(node, inputs)
        inputs_s.append(time.perf_counter() - t0)
        inputs_res.append(changed.residual)
        if n < 3:  # compare with a roll-up from scratch (not timed)
            checked += 1
            for fast in (updated, changed):
                fresh = rollup(fast.graph, fast.own_emissions)
                own_err.append(float(np.max(np.abs(fast.footprints - fresh.footprints) / fresh.footprints)))
    inputs_err = own_err[1::2]
    own_err = own_err[0::2]

    own = latency_summary(own_s)
    inp = latency_summary(inputs_s)
    own["p95_ms"] = round(percentile([s * 1000 for s in own_s], 95), 4)
    inp["p95_ms"] = round(percentile([s * 1000 for s in inputs_s], 95), 4)
    summary: dict[str, Any] = {
        "machine": machine(),
        "params": vars(args),
        "graph": {
            "nodes": graph.size,
            "edges": graph.edge_count,
            "tiers": data["tiers"],
            "components": result.components,
            "largest_component": result.largest_component,
        },
        "build_graph_s": round(build_s, 4),
        "full_rollup_s": {"best": round(min(full), 4), "median": round(float(np.median(full)), 4), "runs": len(full)},
        "method": result.method,
        "iterations": result.iterations,
        "residual": result.residual,
        "amplification": result.amplification,
        "update_own_emissions": own,
        "update_own_emissions_max_residual": max(own_res),
        "update_inputs": inp,
        "update_inputs_max_residual": max(inputs_res),
        "update_vs_fresh_max_rel_diff": {"own": max(own_err), "inputs": max(inputs_err), "checked": checked},
        "targets": {
            "full_rollup_le_1s": min(full) <= TARGET_FULL_S,
            "update_own_median_le_50ms": own["median_ms"] <= TARGET_UPDATE_MS,
            "update_own_p95_le_50ms": own["p95_ms"] <= TARGET_UPDATE_MS,
            "update_inputs_median_le_50ms": inp["median_ms"] <= TARGET_UPDATE_MS,
            "update_inputs_p95_le_50ms": inp["p95_ms"] <= TARGET_UPDATE_MS,
        },
    }
    rows = [
        ("nodes / edges", f"{graph.size:,} / {graph.edge_count:,}"),
        ("components (largest)", f"{result.components:,} ({result.largest_component:,})"),
        ("build graph", f"{build_s:.3f} s"),
        ("full roll-up best / median", f"{min(full):.3f} / {np.median(full):.3f} s"),
        ("method, iterations", f"{result.method}, {result.iterations}"),
        ("residual", f"{result.residual:.2e}"),
        ("amplification ‖(I−Q)⁻¹‖∞", f"{result.amplification:.3g}"),
        ("update own emission median / p95", f"{own['median_ms']:.2f} / {own['p95_ms']:.2f} ms"),
        ("update inputs median / p95", f"{inp['median_ms']:.2f} / {inp['p95_ms']:.2f} ms"),
        ("update vs fresh max rel diff", f"{max(own_err):.1e} / {max(inputs_err):.1e}"),
    ]
    report("Footprint roll-up", rows, summary, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
