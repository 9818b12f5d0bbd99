"""Secure sum over many parties: wall time of a complete pairwise-masking run, all parties in one process.

Every party and the aggregator run in this process over an ``InMemoryNetwork``; the measured time covers setup
of the roles (fresh X25519 keys), ``parties * (parties - 1)`` X25519 exchanges (each pair's seed is derived by
both sides), key-signature checks, ChaCha20 mask expansion, sealing and checking every message, and the
aggregation. Inputs are int64 amounts in minor units below ``--bound``; the result is checked against NumPy.

    python benchmarks/bench_secure_sum.py --parties 100 --length 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from nacl.signing import SigningKey

from tierflow.privacy.secure_sum import SumAggregator, SumParams, SumParty, run_in_memory


def run_once(parties: int, length: int, bound: int, rng: np.random.Generator) -> tuple[float, int]:
    ids = [f"party-{i:03d}" for i in range(parties)]
    keys = {name: SigningKey.generate() for name in [*ids, "aggregator"]}
    verify = {name: key.verify_key for name, key in keys.items()}
    values = rng.integers(-bound, bound, size=(parties, length), dtype=np.int64)
    params = SumParams("bench", "aggregator", tuple(ids), length, bound, min_cohort=10)
    start = time.perf_counter()
    aggregator = SumAggregator(params, signing_key=keys["aggregator"], verify_keys=verify)
    roles = [SumParty(params, pid, values[i], signing_key=keys[pid], verify_keys=verify) for i, pid in enumerate(ids)]
    net = run_in_memory([aggregator, *roles])
    elapsed = time.perf_counter() - start
    assert aggregator.result is not None
    assert np.array_equal(aggregator.result.total, values.sum(axis=0)), "secure sum differs from the plaintext sum"
    return elapsed, sum(len(t.data) for t in net.tap)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parties", type=int, default=100)
    parser.add_argument("--length", type=int, default=10_000)
    parser.add_argument("--bound", type=int, default=10**12, help="|value| bound, minor units")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    times = []
    for _ in range(args.repeat):
        elapsed, wire = run_once(args.parties, args.length, args.bound, rng)
        times.append(elapsed)
        print(f"run: {elapsed:.2f} s, {wire / 1e6:.1f} MB on the wire")
    print(
        f"secure sum {args.parties} parties x {args.length} values, one process: "
        f"best {min(times):.2f} s, median {statistics.median(times):.2f} s (target <= 5 s)"
    )


if __name__ == "__main__":
    main()
