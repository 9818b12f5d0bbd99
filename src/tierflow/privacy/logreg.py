"""Vertically partitioned logistic regression with Paillier and a coordinator (semi-honest), and joint scoring.

Design (the hetero-LR scheme with an arbiter): the *guest* (the bank) holds the labels ``y`` in {0, 1} and
features ``X_B``; the *host* (the core enterprise) holds features ``X_A`` for the same rows in the same order (rows
are aligned beforehand, e.g. by PSI); the *arbiter* generates a fresh Paillier key pair per job and is the only
holder of the private key. The logistic loss's gradient uses the first-order Taylor expansion
``sigmoid(z) ≈ 0.5 + 0.25 z`` so that it is linear in ``z = X_A w_A + X_B w_B + b``. Messages of a ``TRAIN`` job:

1. arbiter -> guest, host ``public_key``: the modulus ``n``.
2. per mini-batch (contiguous row ranges, public): host -> guest ``host_logits``: ``Enc(0.25 u_A)``,
   ``u_A = X_A w_A``; guest -> host ``residuals``: ``Enc(d)``, ``d = 0.25 u_A + 0.25 u_B + 0.5 - y``
   (re-randomised); guest and host -> arbiter ``masked_gradient``: ``Enc(X^T d + r)`` for a uniform mask ``r``
   in ``Z_n`` per weight; arbiter -> sender ``gradient``: ``X^T d + r mod n``. Each side removes its mask and
   updates ``w <- w - lr (X^T d / m + l2 w)`` (the guest's intercept is not regularised).

A ``SCORE`` job (new applicants, aligned the same way): host -> guest ``host_logits``: ``Enc(u_A)``; guest ->
arbiter ``masked_scores``: ``Enc(u_A + u_B + b + r)``; arbiter -> guest ``scores``; the guest removes ``r`` and
applies the exact sigmoid.

Plaintexts are fixed-point integers modulo ``n`` (two's-complement style: residues above ``n/2`` are negative)
with ``FRAC_BITS_X`` fractional bits for features and ``FRAC_BITS_D`` for encrypted values, so no exponent
alignment is ever needed; both are multiples of 4, so every ciphertext is also a ``phe.EncryptedNumber`` with
exponent ``-bits/4``. Ciphertexts travel as fixed-width big-endian integers (``2 * key_bits / 8`` bytes),
plaintexts as ``key_bits / 8`` bytes, so every message size depends only on the public ``LogRegParams``.
Every ciphertext that leaves a party is freshly randomised (``r^n``). ``LogRegParty`` is the per-role state
machine; every message goes through a ``messages.Mailbox`` and anything unexpected aborts the job for good.
"""

from __future__ import annotations

import enum
import secrets
import typing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import gmpy2
import numpy as np
import numpy.typing as npt
from nacl.signing import SigningKey, VerifyKey
from phe import paillier

from tierflow.privacy.messages import Mailbox, Outbox, ProtocolAbort
from tierflow.privacy.transport import InMemoryNetwork

PROTOCOL_PREFIX = "hetero-logreg-paillier-v1"
FRAC_BITS_X = 24
"""Fractional bits of the fixed-point features (the scalar exponents in ``X^T Enc(d)``)."""
FRAC_BITS_D = 48
"""Fractional bits of encrypted values (``Enc(u_A)``, ``Enc(d)``, scores)."""

Array = npt.NDArray[np.float64]
Outgoing = list[tuple[str, bytes]]
"""(recipient, sealed wire message) pairs."""


class Role(enum.StrEnum):
    GUEST = "guest"
    HOST = "host"
    ARBITER = "arbiter"


class Task(enum.StrEnum):
    TRAIN = "train"
    SCORE = "score"


@dataclass(frozen=True)
class LogRegParams:
    """The public parameters all three parties agree on before a job."""

    job_id: str
    task: Task
    guest: str
    host: str
    arbiter: str
    rows: int
    guest_features: int
    host_features: int
    key_bits: int = 2048
    epochs: int = 1
    batch_size: int = 0
    """Rows per mini-batch; 0 means full batch."""
    learning_rate: float = 0.15
    l2: float = 0.0
    fit_intercept: bool = True

    def __post_init__(self) -> None:
        if len({self.guest, self.host, self.arbiter}) != 3:
            raise ValueError("the three parties must differ")
        if self.rows < 1 or self.guest_features < 0 or self.host_features < 1 or self.epochs < 1:
            raise ValueError("rows, host features and epochs must be positive")
        if self.key_bits < 1024 or self.key_bits % 8:
            raise ValueError("key_bits must be a multiple of 8 and at least 1024")
        if self.batch_size < 0 or self.batch_size > self.rows:
            raise ValueError("batch_size must be between 0 (full batch) and rows")
        if self.task is Task.TRAIN and min(m for _, m in self.batches()) <= max(self.host_features, self.guest_width):
            raise ValueError("every batch must have more rows than either side has weights (gradient leakage)")

    @property
    def protocol(self) -> str:
        return f"{PROTOCOL_PREFIX}/{self.task.value}"

    @property
    def guest_width(self) -> int:
        """The guest's number of weights: its features plus the intercept."""
        return self.guest_features + int(self.fit_intercept)

    @property
    def ct_bytes(self) -> int:
        return 2 * self.key_bits // 8

    @property
    def pt_bytes(self) -> int:
        return self.key_bits // 8

    def batches(self) -> list[tuple[int, int]]:
        """(start, rows) of each mini-batch, in order; the same every epoch."""
        size = self.batch_size or self.rows
        return [(s, min(size, self.rows - s)) for s in range(0, self.rows, size)]

    def body_size(self, kind: str, batch_rows: int) -> int:
        """Exact body size of a message: a function of the public parameters only."""
        ct, pt = self.ct_bytes, self.pt_bytes
        sizes = {
            "public_key": pt,
            "host_logits": batch_rows * ct,
            "residuals": batch_rows * ct,
            "masked_scores": batch_rows * ct,
            "scores": batch_rows * pt,
        }
        return sizes[kind]

    def gradient_size(self, kind: str, party: str) -> int:
        width = self.guest_width if party == self.guest else self.host_features
        return width * (self.ct_bytes if kind == "masked_gradient" else self.pt_bytes)

    def max_message_bytes(self) -> int:
        """Limit for one wire message: base64 of the largest body plus envelope overhead."""
        largest = max(m for _, m in self.batches())
        body = max(largest * self.ct_bytes, max(self.guest_width, self.host_features) * self.ct_bytes)
        text = len(self.job_id) + len(self.protocol) + len(self.guest) + len(self.host) + len(self.arbiter)
        return 4 * -(-body // 3) + 1024 + 6 * text


@dataclass
class LogRegResult:
    """What a party ends with: its own weights (TRAIN), or the guest's scores (SCORE)."""

    weights: Array | None = None
    intercept: float | None = None
    logits: Array | None = None
    scores: Array | None = None


# --- fixed-point encoding and Paillier operations on raw integers ---------------------------------------------


def encode(n: int, value: float, frac_bits: int) -> int:
    """``round(value * 2^frac_bits) mod n``."""
    return round(value * (1 << frac_bits)) % n


def decode(n: int, residue: int, frac_bits: int) -> float:
    """Inverse of ``encode``: residues above ``n/2`` are negative."""
    signed = residue - n if residue > n // 2 else residue
    return signed / (1 << frac_bits)


def quantise(values: npt.ArrayLike, frac_bits: int) -> list[int]:
    """Signed fixed-point integers ``round(v * 2^frac_bits)`` (exact for |v| < 2^(52 - frac_bits))."""
    return [int(q) for q in np.rint(np.asarray(values, dtype=np.float64) * (1 << frac_bits)).astype(np.int64)]


def _randomisers(n: int, count: int) -> list[int]:
    """``count`` fresh ``r^n mod n^2`` for uniform ``r`` in ``[1, n)``."""
    nn = gmpy2.mpz(n) * n
    return [int(gmpy2.powmod(secrets.randbelow(n - 1) + 1, n, nn)) for _ in range(count)]


def randomisers(n: int, count: int, pool: ProcessPoolExecutor | None = None, workers: int = 1) -> list[int]:
    """Fresh obfuscators, drawn on ``workers`` processes of ``pool`` when given."""
    if pool is None or workers < 2 or count < 2 * workers:
        return _randomisers(n, count)
    share = -(-count // workers)
    sizes = [min(share, count - i) for i in range(0, count, share)]
    return [r for chunk in pool.map(_randomisers, [n] * len(sizes), sizes) for r in chunk]


def encrypt(n: int, plaintexts: Sequence[int], obfuscators: Sequence[int]) -> list[int]:
    """``(1 + m n) r^n mod n^2`` for each residue ``m`` (``g = n + 1``)."""
    nn = gmpy2.mpz(n) * n
    return [int((1 + m * gmpy2.mpz(n)) * r % nn) for m, r in zip(plaintexts, obfuscators, strict=True)]


def add_plain(n: int, ciphertexts: Sequence[int], plaintexts: Sequence[int]) -> list[int]:
    """``Enc(a + m)`` from ``Enc(a)`` and residues ``m`` (not re-randomised)."""
    nn = gmpy2.mpz(n) * n
    return [int(c * (1 + m * gmpy2.mpz(n)) % nn) for c, m in zip(ciphertexts, plaintexts, strict=True)]


def add(n: int, a: Sequence[int], b: Sequence[int]) -> list[int]:
    """``Enc(x + y)`` from ``Enc(x)`` and ``Enc(y)``."""
    nn = gmpy2.mpz(n) * n
    return [int(gmpy2.mpz(x) * y % nn) for x, y in zip(a, b, strict=True)]


def rerandomise(n: int, ciphertexts: Sequence[int], obfuscators: Sequence[int]) -> list[int]:
    nn = gmpy2.mpz(n) * n
    return [int(gmpy2.mpz(c) * r % nn) for c, r in zip(ciphertexts, obfuscators, strict=True)]


def scalar_mul(n: int, ciphertext: int, k: int) -> int:
    """``Enc(k a)`` from ``Enc(a)`` for a signed integer ``k``."""
    nn = gmpy2.mpz(n) * n
    if k >= 0:
        return int(gmpy2.powmod(ciphertext, k, nn))
    return int(gmpy2.powmod(gmpy2.invert(ciphertext, nn), -k, nn))


def dot_columns(n: int, ciphertexts: Sequence[int], columns: Sequence[Sequence[int]]) -> list[int]:
    """``Enc(sum_i q_ij a_i)`` for each column ``j`` of signed integers, from ``Enc(a_i)``."""
    nn = gmpy2.mpz(n) * n
    cts = [gmpy2.mpz(c) for c in ciphertexts]
    out = []
    for column in columns:
        pos, neg = gmpy2.mpz(1), gmpy2.mpz(1)
        for c, q in zip(cts, column, strict=True):
            if q > 0:
                pos = pos * gmpy2.powmod(c, q, nn) % nn
            elif q < 0:
                neg = neg * gmpy2.powmod(c, -q, nn) % nn
        out.append(int(pos * gmpy2.invert(neg, nn) % nn))
    return out


def _dot_task(args: tuple[int, list[int], list[list[int]]]) -> list[int]:
    return dot_columns(*args)


def decrypt(private_key: paillier.PaillierPrivateKey, ciphertexts: Sequence[int]) -> list[int]:
    return [int(private_key.raw_decrypt(int(c))) for c in ciphertexts]


def _pack(values: Sequence[int], width: int) -> bytes:
    return b"".join(v.to_bytes(width, "big") for v in values)


def _unpack(body: bytes, width: int, bound: int) -> list[int]:
    values = [int.from_bytes(body[i : i + width], "big") for i in range(0, len(body), width)]
    if any(not 0 < v < bound for v in values):
        raise ProtocolAbort("value out of range for the key")
    return values


def sigmoid(z: Array) -> Array:
    out: Array = 1.0 / (1.0 + np.exp(-z))
    return out


# --- the per-role state machine ---------------------------------------------------------------------------------


@dataclass
class _Pending:
    """Guest bookkeeping: the batch in flight and buffered host logits."""

    step: int = 0
    awaiting_gradient: bool = False
    buffered: bytes | None = None
    masks: list[int] = field(default_factory=list)


class LogRegParty:
    """One party of a joint logistic regression (or scoring) job: a state machine over sealed messages.

    ``features``: this party's rows x features (guest and host; aligned rows, same order). ``labels``: the
    guest's 0/1 labels (TRAIN). ``weights``/``intercept``: the model to score with (SCORE). ``workers`` > 1 draws
    obfuscators and computes ``X^T Enc(d)`` on that many processes.
    """

    def __init__(
        self,
        params: LogRegParams,
        role: Role,
        *,
        signing_key: SigningKey,
        peer_keys: Mapping[str, VerifyKey],
        features: npt.ArrayLike | None = None,
        labels: npt.ArrayLike | None = None,
        weights: npt.ArrayLike | None = None,
        intercept: float = 0.0,
        workers: int = 1,
    ) -> None:
        self.params = params
        self.role = role
        self.workers = workers
        self.party_id = {Role.GUEST: params.guest, Role.HOST: params.host, Role.ARBITER: params.arbiter}[role]
        self.peers = [p for p in (params.guest, params.host, params.arbiter) if p != self.party_id]
        if set(peer_keys) != set(self.peers):
            raise ValueError("peer_keys must name exactly the other two parties")
        self._x: Array = np.zeros((params.rows, 0))
        self._y: Array = np.zeros(0)
        self._w: Array = np.zeros(0)
        self._b = float(intercept)
        if role is not Role.ARBITER:
            width = params.guest_features if role is Role.GUEST else params.host_features
            x = np.asarray(features, dtype=np.float64)
            if x.shape != (params.rows, width) or not np.isfinite(x).all():
                raise ValueError(f"features must be finite with shape ({params.rows}, {width})")
            self._x = x
            self._w = np.zeros(width) if weights is None else np.asarray(weights, dtype=np.float64).copy()
            if self._w.shape != (width,):
                raise ValueError(f"weights must have shape ({width},)")
            if params.task is Task.SCORE and weights is None:
                raise ValueError("scoring needs this party's weights")
        if role is Role.GUEST and params.task is Task.TRAIN:
            y = np.asarray(labels, dtype=np.float64)
            if y.shape != (params.rows,) or not np.isin(y, (0.0, 1.0)).all():
                raise ValueError("labels must be 0/1 with one per row")
            self._y = y
        elif labels is not None:
            raise ValueError("only the training guest has labels")
        self._outboxes = {  # one sequence per (sender, recipient) pair, as each Mailbox expects
            peer: Outbox(job_id=params.job_id, protocol=params.protocol, party=self.party_id, key=signing_key)
            for peer in self.peers
        }
        self._mailbox = Mailbox(
            job_id=params.job_id, protocol=params.protocol, party=self.party_id, peers=peer_keys,
            max_message_bytes=params.max_message_bytes(),
        )  # fmt: skip
        self._n = 0
        self._private: paillier.PaillierPrivateKey | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._guest = _Pending()
        self._host_step = 0
        self._host_masks: list[int] = []
        self._arbiter_counts = dict.fromkeys(self.peers, 0)
        self.state = "new"
        self.result: LogRegResult | None = None

    # --- public state machine ---------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.state == "done"

    @property
    def steps(self) -> int:
        """Mini-batch steps in the job (1 for scoring)."""
        return self.params.epochs * len(self.params.batches()) if self.params.task is Task.TRAIN else 1

    def start(self) -> Outgoing:
        if self.state != "new":
            raise ProtocolAbort(f"party is {self.state}, expected new")
        self.state = "running"
        if self.role is not Role.ARBITER:
            return []
        public, self._private = paillier.generate_paillier_keypair(n_length=self.params.key_bits)  # fresh per job
        self._n = int(public.n)
        body = self._n.to_bytes(self.params.pt_bytes, "big")
        return [self._send(peer, "public_key", body) for peer in self.peers]

    def on_message(self, data: bytes) -> Outgoing:
        if self.state in ("aborted", "done", "new"):
            raise ProtocolAbort(f"job is {self.state}; no message is accepted")
        try:
            envelope = self._mailbox.accept(data)
            kind, sender, body = envelope.kind, envelope.sender, envelope.body
            if self.role is Role.ARBITER:
                return self._arbiter(sender, kind, body)
            if kind == "public_key":
                return self._on_public_key(sender, body)
            if self._n == 0:
                raise ProtocolAbort(f"unexpected message kind {kind!r} before the public key")
            if self.role is Role.HOST:
                return self._host(sender, kind, body)
            return self._guest_message(sender, kind, body)
        except ProtocolAbort:
            self._abort()
            raise
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            self._abort()
            raise ProtocolAbort(f"protocol failure: {exc}") from exc

    # --- helpers ----------------------------------------------------------------------------------------------

    def _abort(self) -> None:
        self.state = "aborted"
        self._private = None
        self._shutdown()

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _finish(self, result: LogRegResult | None) -> None:
        self.result = result
        self.state = "done"
        self._private = None
        self._shutdown()

    def _send(self, recipient: str, kind: str, body: bytes) -> tuple[str, bytes]:
        return recipient, self._outboxes[recipient].seal(recipient, kind, body)

    def _check(self, sender: str, kind: str, body: bytes, want_sender: str, want_kind: str, size: int) -> None:
        if (sender, kind) != (want_sender, want_kind):
            raise ProtocolAbort(f"unexpected message kind {kind!r} from {sender!r} in this state")
        if len(body) != size:
            raise ProtocolAbort(f"{kind} body has the wrong size for the declared parameters")

    def _obfuscators(self, count: int) -> list[int]:
        if self.workers > 1 and self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers)
        return randomisers(self._n, count, self._pool, self.workers)

    def _batch(self, step: int) -> tuple[int, int]:
        return self.params.batches()[step % len(self.params.batches())]

    def _encrypt_values(self, values: Array) -> list[int]:
        plain = [encode(self._n, float(v), FRAC_BITS_D) for v in values]
        return encrypt(self._n, plain, self._obfuscators(len(plain)))

    def _masked_gradient(self, residuals: list[int], x: Array) -> tuple[bytes, list[int]]:
        """``Enc(X^T d + r)`` (re-randomised) and the masks ``r``."""
        columns = [quantise(x[:, j], FRAC_BITS_X) for j in range(x.shape[1])]
        if self.workers > 1 and len(columns) > 1:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.workers)
            share = -(-len(columns) // self.workers)
            tasks = [(self._n, residuals, columns[i : i + share]) for i in range(0, len(columns), share)]
            grads = [g for chunk in self._pool.map(_dot_task, tasks) for g in chunk]
        else:
            grads = dot_columns(self._n, residuals, columns)
        masks = [secrets.randbelow(self._n) for _ in grads]
        masked = encrypt(self._n, masks, self._obfuscators(len(masks)))
        return _pack(add(self._n, grads, masked), self.params.ct_bytes), masks

    def _unmask_gradient(self, body: bytes, masks: list[int], rows: int) -> Array:
        values = self._plain(body)
        bits = FRAC_BITS_D + FRAC_BITS_X
        grad = [decode(self._n, (v - r) % self._n, bits) for v, r in zip(values, masks, strict=True)]
        return np.asarray(grad) / rows

    def _on_public_key(self, sender: str, body: bytes) -> Outgoing:
        self._check(sender, "public_key", body, self.params.arbiter, "public_key", self.params.pt_bytes)
        if self._n:
            raise ProtocolAbort("a second public key")
        n = int.from_bytes(body, "big")
        if n.bit_length() != self.params.key_bits or n % 2 == 0 or gmpy2.is_prime(n):
            raise ProtocolAbort("public key does not fit the declared key length")
        self._n = n
        if self.role is Role.HOST:
            return self._host_send_logits()
        if self._guest.buffered is not None:
            raise ProtocolAbort("host logits before the public key")
        return []

    # --- host -------------------------------------------------------------------------------------------------

    def _host_send_logits(self) -> Outgoing:
        start, rows = self._batch(self._host_step)
        u = self._x[start : start + rows] @ self._w
        scale = 0.25 if self.params.task is Task.TRAIN else 1.0
        body = _pack(self._encrypt_values(scale * u), self.params.ct_bytes)
        out = [self._send(self.params.guest, "host_logits", body)]
        if self.params.task is Task.SCORE:
            self._finish(None)
        return out

    def _host(self, sender: str, kind: str, body: bytes) -> Outgoing:
        p = self.params
        start, rows = self._batch(self._host_step)
        if not self._host_masks:
            self._check(sender, kind, body, p.guest, "residuals", p.body_size("residuals", rows))
            residuals = _unpack(body, p.ct_bytes, self._n * self._n)
            masked, self._host_masks = self._masked_gradient(residuals, self._x[start : start + rows])
            return [self._send(p.arbiter, "masked_gradient", masked)]
        self._check(sender, kind, body, p.arbiter, "gradient", p.gradient_size("gradient", p.host))
        grad = self._unmask_gradient(body, self._host_masks, rows)
        self._host_masks = []
        self._w = self._w - p.learning_rate * (grad + p.l2 * self._w)
        self._host_step += 1
        if self._host_step == self.steps:
            self._finish(LogRegResult(weights=self._w.copy()))
            return []
        return self._host_send_logits()

    # --- guest ------------------------------------------------------------------------------------------------

    def _guest_x(self, start: int, rows: int) -> Array:
        x = self._x[start : start + rows]
        return np.hstack([x, np.ones((rows, 1))]) if self.params.fit_intercept else x

    def _guest_message(self, sender: str, kind: str, body: bytes) -> Outgoing:
        p, g = self.params, self._guest
        _, rows = self._batch(g.step)
        if sender == p.host:
            self._check(sender, kind, body, p.host, "host_logits", p.body_size("host_logits", rows))
            if g.buffered is not None or (g.masks and not g.awaiting_gradient):
                raise ProtocolAbort("unexpected host logits")
            if g.awaiting_gradient:
                g.buffered = body
                return []
            return self._guest_on_logits(body)
        if p.task is Task.SCORE:
            self._check(sender, kind, body, p.arbiter, "scores", p.body_size("scores", rows))
            values = self._plain(body)
            z = np.asarray(
                [decode(self._n, (v - r) % self._n, FRAC_BITS_D) for v, r in zip(values, g.masks, strict=True)]
            )
            self._finish(LogRegResult(logits=z, scores=sigmoid(z)))
            return []
        if not g.awaiting_gradient:
            raise ProtocolAbort(f"unexpected message kind {kind!r} from {sender!r} in this state")
        self._check(sender, kind, body, p.arbiter, "gradient", p.gradient_size("gradient", p.guest))
        grad = self._unmask_gradient(body, g.masks, rows)
        g.awaiting_gradient, g.masks = False, []
        penalty = np.append(self._w, 0.0) if p.fit_intercept else self._w
        full = np.append(self._w, self._b) if p.fit_intercept else self._w
        full = full - p.learning_rate * (grad + p.l2 * penalty)
        self._w, self._b = (full[:-1], float(full[-1])) if p.fit_intercept else (full, self._b)
        g.step += 1
        if g.step == self.steps:
            self._finish(LogRegResult(weights=self._w.copy(), intercept=self._b if p.fit_intercept else None))
            return []
        if g.buffered is not None:
            buffered, g.buffered = g.buffered, None
            return self._guest_on_logits(buffered)
        return []

    def _plain(self, body: bytes) -> list[int]:
        width = self.params.pt_bytes
        values = [int.from_bytes(body[i : i + width], "big") for i in range(0, len(body), width)]
        if any(v >= self._n for v in values):
            raise ProtocolAbort("value out of range for the key")
        return values

    def _guest_on_logits(self, body: bytes) -> Outgoing:
        p, g = self.params, self._guest
        start, rows = self._batch(g.step)
        host = _unpack(body, p.ct_bytes, self._n * self._n)
        u = self._x[start : start + rows] @ self._w + self._b
        if p.task is Task.SCORE:
            g.masks = [secrets.randbelow(self._n) for _ in range(rows)]
            plain = [(encode(self._n, float(v), FRAC_BITS_D) + r) % self._n for v, r in zip(u, g.masks, strict=True)]
            scores = rerandomise(self._n, add_plain(self._n, host, plain), self._obfuscators(rows))
            return [self._send(p.arbiter, "masked_scores", _pack(scores, p.ct_bytes))]
        own = 0.25 * u + 0.5 - self._y[start : start + rows]
        plain = [encode(self._n, float(v), FRAC_BITS_D) for v in own]
        residuals = rerandomise(self._n, add_plain(self._n, host, plain), self._obfuscators(rows))
        masked, g.masks = self._masked_gradient(residuals, self._guest_x(start, rows))
        g.awaiting_gradient = True
        return [
            self._send(p.host, "residuals", _pack(residuals, p.ct_bytes)),
            self._send(p.arbiter, "masked_gradient", masked),
        ]

    # --- arbiter ----------------------------------------------------------------------------------------------

    def _arbiter(self, sender: str, kind: str, body: bytes) -> Outgoing:
        p = self.params
        if self._private is None:
            raise ProtocolAbort("arbiter has no key")
        if p.task is Task.SCORE:
            self._check(sender, kind, body, p.guest, "masked_scores", p.body_size("masked_scores", p.rows))
            plain = decrypt(self._private, _unpack(body, p.ct_bytes, self._n * self._n))
            out = [self._send(p.guest, "scores", _pack(plain, p.pt_bytes))]
            self._finish(None)
            return out
        if self._arbiter_counts[sender] >= self.steps:
            raise ProtocolAbort("more gradients than the job has steps")
        self._check(sender, kind, body, sender, "masked_gradient", p.gradient_size("masked_gradient", sender))
        plain = decrypt(self._private, _unpack(body, p.ct_bytes, self._n * self._n))
        self._arbiter_counts[sender] += 1
        out = [self._send(sender, "gradient", _pack(plain, p.pt_bytes))]
        if all(c == self.steps for c in self._arbiter_counts.values()):
            self._finish(None)
        return out


class ThreePartyRole(typing.Protocol):
    """What ``run_in_memory`` drives: a role of either back end of the joint model."""

    @property
    def party_id(self) -> str: ...
    @property
    def peers(self) -> Sequence[str]: ...
    @property
    def done(self) -> bool: ...
    def start(self) -> list[tuple[str, bytes]]: ...
    def on_message(self, data: bytes) -> list[tuple[str, bytes]]: ...


def run_in_memory(parties: Sequence[ThreePartyRole], network: InMemoryNetwork | None = None) -> InMemoryNetwork:
    """Run the three parties to completion over an in-memory network; returns the network (its tap holds the run)."""
    net = network if network is not None else InMemoryNetwork()
    for party in parties:
        for recipient, data in party.start():
            net.deliver(party.party_id, recipient, data)
    while not all(p.done for p in parties):
        progressed = False
        for party in parties:
            for peer in party.peers:
                incoming = net.pop(peer, party.party_id)
                if incoming is None:
                    continue
                progressed = True
                for recipient, data in party.on_message(incoming):
                    net.deliver(party.party_id, recipient, data)
        if not progressed:
            raise ProtocolAbort("protocol stalled: a message was lost")
    return net


def plaintext_reference(
    params: LogRegParams, x_guest: npt.ArrayLike, x_host: npt.ArrayLike, labels: npt.ArrayLike
) -> tuple[Array, float, Array]:
    """The same Taylor-approximated mini-batch update on the joined data: (guest weights, intercept, host weights)."""
    xb, xa = np.asarray(x_guest, dtype=np.float64), np.asarray(x_host, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    wb, wa, b = np.zeros(xb.shape[1]), np.zeros(xa.shape[1]), 0.0
    for _ in range(params.epochs):
        for start, rows in params.batches():
            sl = slice(start, start + rows)
            z = xa[sl] @ wa + xb[sl] @ wb + b
            d = 0.25 * z + 0.5 - y[sl]
            ga, gb = xa[sl].T @ d / rows, xb[sl].T @ d / rows
            wa = wa - params.learning_rate * (ga + params.l2 * wa)
            wb = wb - params.learning_rate * (gb + params.l2 * wb)
            if params.fit_intercept:
                b -= params.learning_rate * float(d.sum()) / rows
    return wb, b, wa


__all__ = [
    "FRAC_BITS_D",
    "FRAC_BITS_X",
    "LogRegParams",
    "LogRegParty",
    "LogRegResult",
    "Role",
    "Task",
    "plaintext_reference",
    "run_in_memory",
]
