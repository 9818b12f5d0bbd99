"""Joint (vertically partitioned) logistic regression: seconds per epoch, and (Paillier) the cost per primitive.

Runs ``--epochs`` full epochs of a ``TRAIN`` job in memory (guest, host and arbiter in one process, one after
another, as on a single machine) on ``--rows`` rows with ``--features`` features split evenly between guest and
host, and times the primitives that dominate an epoch: drawing an obfuscator ``r^n mod n^2`` (about
``2 * rows`` per epoch: the host's ``Enc(0.25 u_A)`` and the guest's re-randomised ``Enc(d)``) and one
``Enc(d_i)^{x_ij}`` (``rows * features`` per epoch). Also checks the weights against the plaintext update.

    python benchmarks/bench_logreg.py --rows 10000 --features 20 --key-bits 2048 --workers 2

``--backend ss`` runs the secret-sharing back end (``tierflow.privacy.logreg_ss``: guest, host and dealer, no keys,
no worker pools) on the same data instead:

    python benchmarks/bench_logreg.py --backend ss --rows 10000 --features 20 --epochs 5
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from nacl.signing import SigningKey
from phe import paillier

from tierflow.privacy import logreg_ss
from tierflow.privacy.logreg import (
    FRAC_BITS_X,
    LogRegParams,
    LogRegParty,
    Role,
    Task,
    dot_columns,
    encode,
    encrypt,
    plaintext_reference,
    quantise,
    randomisers,
    run_in_memory,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=0, help="0: full batch")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sample", type=int, default=200, help="primitive operations timed")
    parser.add_argument("--backend", choices=("paillier", "ss"), default="paillier")
    args = parser.parse_args()
    if args.backend == "ss":
        run_ss(args)
        return

    public, _ = paillier.generate_paillier_keypair(n_length=args.key_bits)
    n = int(public.n)
    start = time.perf_counter()
    obfuscators = randomisers(n, args.sample)
    per_obfuscator = (time.perf_counter() - start) / args.sample
    cts = encrypt(n, [encode(n, 0.1 * i, 48) for i in range(args.sample)], obfuscators)
    column = quantise(np.random.default_rng(1).normal(size=args.sample), FRAC_BITS_X)
    start = time.perf_counter()
    dot_columns(n, cts, [column])
    per_scalar_mul = (time.perf_counter() - start) / args.sample

    rng = np.random.default_rng(7)
    fb = args.features // 2
    fa = args.features - fb
    x = rng.normal(size=(args.rows, args.features))
    true_w = rng.normal(size=args.features)
    y = (rng.random(args.rows) < 1 / (1 + np.exp(-(x @ true_w)))).astype(float)
    params = LogRegParams("bench", Task.TRAIN, "bank", "core", "arbiter", args.rows, fb, fa,
                          key_bits=args.key_bits, epochs=args.epochs, batch_size=args.batch_size)  # fmt: skip
    keys = {p: SigningKey.generate() for p in ("bank", "core", "arbiter")}

    def peers(me: str) -> dict[str, object]:
        return {p: k.verify_key for p, k in keys.items() if p != me}

    guest = LogRegParty(params, Role.GUEST, signing_key=keys["bank"], peer_keys=peers("bank"),  # type: ignore[arg-type]
                        features=x[:, :fb], labels=y, workers=args.workers)  # fmt: skip
    host = LogRegParty(params, Role.HOST, signing_key=keys["core"], peer_keys=peers("core"),  # type: ignore[arg-type]
                       features=x[:, fb:], workers=args.workers)  # fmt: skip
    arbiter = LogRegParty(params, Role.ARBITER, signing_key=keys["arbiter"], peer_keys=peers("arbiter"))  # type: ignore[arg-type]
    start = time.perf_counter()
    net = run_in_memory([guest, host, arbiter])
    elapsed = time.perf_counter() - start
    wb, b, wa = plaintext_reference(params, x[:, :fb], x[:, fb:], y)
    assert guest.result is not None and host.result is not None and guest.result.weights is not None
    assert host.result.weights is not None and guest.result.intercept is not None
    error = max(float(np.abs(guest.result.weights - wb).max()), abs(guest.result.intercept - b),
                float(np.abs(host.result.weights - wa).max()))  # fmt: skip
    report = {
        "rows": args.rows, "features": args.features, "key_bits": args.key_bits, "epochs": args.epochs,
        "batch_size": args.batch_size or args.rows, "workers": args.workers, "cores": os.cpu_count(),
        "seconds_total": round(elapsed, 2), "seconds_per_epoch": round(elapsed / args.epochs, 2),
        "obfuscator_ms": round(per_obfuscator * 1e3, 3), "scalar_mul_us": round(per_scalar_mul * 1e6, 1),
        "messages": len(net.tap), "bytes": sum(len(t.data) for t in net.tap), "max_weight_error": error,
    }  # fmt: skip
    print(json.dumps(report, indent=2))


def run_ss(args: argparse.Namespace) -> None:
    """The secret-sharing back end on the same data, timed end to end (dealing included)."""
    rng = np.random.default_rng(7)
    fb = args.features // 2
    fa = args.features - fb
    x = rng.normal(size=(args.rows, args.features))
    true_w = rng.normal(size=args.features)
    y = (rng.random(args.rows) < 1 / (1 + np.exp(-(x @ true_w)))).astype(float)
    params = logreg_ss.SSLogRegParams("bench", "bank", "core", "dealer", args.rows, fb, fa,
                                      epochs=args.epochs, batch_size=args.batch_size)  # fmt: skip
    keys = {p: SigningKey.generate() for p in ("bank", "core", "dealer")}

    def peers(me: str) -> dict[str, object]:
        return {p: k.verify_key for p, k in keys.items() if p != me}

    guest = logreg_ss.SSLogRegParty(params, Role.GUEST, signing_key=keys["bank"], peer_keys=peers("bank"),  # type: ignore[arg-type]
                                    features=x[:, :fb], labels=y)  # fmt: skip
    host = logreg_ss.SSLogRegParty(params, Role.HOST, signing_key=keys["core"], peer_keys=peers("core"),  # type: ignore[arg-type]
                                   features=x[:, fb:])  # fmt: skip
    dealer = logreg_ss.SSLogRegParty(params, Role.ARBITER, signing_key=keys["dealer"], peer_keys=peers("dealer"))  # type: ignore[arg-type]
    start = time.perf_counter()
    net = logreg_ss.run_in_memory([guest, host, dealer])
    elapsed = time.perf_counter() - start
    wb, b, wa = logreg_ss.reference(params, x[:, :fb], x[:, fb:], y)
    assert guest.result is not None and host.result is not None and guest.result.weights is not None
    assert host.result.weights is not None and guest.result.intercept is not None
    error = max(float(np.abs(guest.result.weights - wb).max()), abs(guest.result.intercept - b),
                float(np.abs(host.result.weights - wa).max()))  # fmt: skip
    report = {
        "backend": "ss", "rows": args.rows, "features": args.features, "epochs": args.epochs,
        "batch_size": args.batch_size or args.rows, "frac_bits": params.frac_bits, "cores": os.cpu_count(),
        "seconds_total": round(elapsed, 3), "seconds_per_epoch": round(elapsed / args.epochs, 3),
        "messages": len(net.tap), "bytes": sum(len(t.data) for t in net.tap), "max_weight_error": error,
    }  # fmt: skip
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
