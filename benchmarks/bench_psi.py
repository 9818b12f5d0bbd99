"""Throughput of the PSI building blocks: hash-to-group plus one scalar multiplication per item, and a full run.

Measures ``ristretto.hash_to_group_many`` + ``scalarmult_many`` on ``--items`` random 16-byte items on one
thread, on ``--workers`` threads (ctypes releases the GIL) and on ``--workers`` processes, then one in-memory
``ONE``-variant PSI of ``--psi`` x ``--psi`` items. ECDH-PSI costs each side about two scalar multiplications
per item of its own set plus one per item of the peer's set.

    python benchmarks/bench_psi.py --items 100000 --workers 2
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor

from nacl.signing import SigningKey

from tierflow.privacy import ristretto
from tierflow.privacy.psi import PsiParams, PsiParty, Role, Variant, run_in_memory


def _hash_and_mult(chunk: list[bytes]) -> int:
    return len(ristretto.scalarmult_many(ristretto.scalar_random(), ristretto.hash_to_group_many(chunk)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--psi", type=int, default=20_000)
    args = parser.parse_args()
    items = [os.urandom(16) for _ in range(args.items)]
    scalar = ristretto.scalar_random()

    for workers in (1, args.workers):
        start = time.perf_counter()
        hashed = ristretto.hash_to_group_many(items, workers=workers)
        mid = time.perf_counter()
        ristretto.scalarmult_many(scalar, hashed, workers=workers)
        end = time.perf_counter()
        n = len(items)
        print(f"threads={workers}: hash {n / (mid - start):,.0f}/s, scalarmult {n / (end - mid):,.0f}/s, "
              f"hash+mult {n / (end - start):,.0f} items/s")  # fmt: skip

    size = -(-len(items) // args.workers)
    with ProcessPoolExecutor(args.workers) as pool:
        list(pool.map(_hash_and_mult, [items[:8]] * args.workers))
        start = time.perf_counter()
        done = sum(pool.map(_hash_and_mult, [items[i : i + size] for i in range(0, len(items), size)]))
        elapsed = time.perf_counter() - start
    print(f"processes={args.workers}: hash+mult {done / elapsed:,.0f} items/s")

    # The PSI run draws its own items (the two sets overlap by half), however many the throughput part used.
    items = [os.urandom(16) for _ in range(args.psi + args.psi // 2)]
    ka, kb = SigningKey.generate(), SigningKey.generate()
    params = PsiParams("bench", Variant.ONE, "a", "b", args.psi, args.psi)
    a = PsiParty(params, Role.INITIATOR, items[: args.psi], signing_key=ka, peer_key=kb.verify_key)
    b = PsiParty(params, Role.RESPONDER, items[args.psi // 2 : args.psi // 2 + args.psi], signing_key=kb,
                 peer_key=ka.verify_key)  # fmt: skip
    start = time.perf_counter()
    run_in_memory(a, b)
    elapsed = time.perf_counter() - start
    assert a.result is not None and a.result.cardinality == args.psi - args.psi // 2
    print(f"PSI ONE {args.psi} x {args.psi} in memory, one process: {elapsed:.2f} s")


if __name__ == "__main__":
    main()
