"""Vertically partitioned logistic regression with two-party additive secret sharing and a trusted dealer.

Design (semi-honest, non-colluding dealer): the same roles and update as ``tierflow.privacy.logreg`` — the
*guest* (labels ``y`` and features ``X_B`` plus an intercept column), the *host* (features ``X_A``) — but the
coordinator is a *dealer* that sees no data: it draws a fresh seed per job and hands each party the
correlated randomness (Beaver matrix triples) for every step, then leaves. Each party keeps its own plaintext
weights. Values live in ``Z_2^64`` (NumPy ``uint64``, wrapping arithmetic) as fixed point with ``frac_bits``
fractional bits.

Per mini-batch of ``m`` rows each party ``P`` (peer ``Q``) holds the additive share ``[d]_P`` of the Taylor
residual ``d = 0.25 (u_A + u_B) + 0.5 - y``: the guest's share is ``enc(0.25 u_B + 0.5 - y)``, the host's
``enc(0.25 u_A)`` (a trivial sharing — neither share ever leaves its owner unmasked). Its gradient is
``X_P^T d = X_P^T [d]_P + X_P^T [d]_Q``; the cross term is a product of ``P``'s private matrix and ``Q``'s
private vector, computed with one matrix triple ``(A_P, b_Q, c)``, ``c = A_P^T b_Q = c_P + c_Q`` (``A_P``,
``c_P`` known to ``P``, ``b_Q``, ``c_Q`` to ``Q``):

1. dealer -> guest, host ``triples`` (once, encrypted to the recipient with ``nacl.public.Box`` from the
   parties' Ed25519 keys): a 32-byte seed from which the party expands ``A_P``, ``b_P`` (for the peer's
   product) and ``c_P`` for every step with SHAKE-256, plus the explicit ``c`` shares of the peer's products;
2. P -> Q ``masked``: ``E_P = X_P - A_P`` and ``f_P = [d]_P - b_P`` (one-time padded);
3. Q -> P ``share``: ``E_P^T b_Q + c_Q``;
4. P: ``X_P^T d = X_P^T ([d]_P + f_Q) + c_P + share`` (mod ``2^64``), decodes with ``2 frac_bits`` fractional
   bits and updates ``w <- w - lr (X_P^T d / m + l2 w)`` (the intercept is not regularised).

Every product is opened to its owner right after the one multiplication, so no truncation is needed: the result
is exact in the ring as long as ``|sum_i x_ij d_i| < 2^(63 - 2 frac_bits)`` per batch (``2^23`` at 20 bits).
Message sizes depend only on ``SSLogRegParams``; every message goes through ``messages.Outbox``/``Mailbox``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from nacl.exceptions import CryptoError
from nacl.public import Box
from nacl.signing import SigningKey, VerifyKey

from tierflow.privacy.logreg import LogRegParams, LogRegResult, Role, Task, plaintext_reference, run_in_memory
from tierflow.privacy.messages import Mailbox, Outbox, ProtocolAbort

PROTOCOL = "hetero-logreg-ss-v1/train"
SEED_BYTES = 32
BOX_OVERHEAD = Box.NONCE_SIZE + 16
WORD = 8

Array = npt.NDArray[np.float64]
Ring = npt.NDArray[np.uint64]
Outgoing = list[tuple[str, bytes]]


@dataclass(frozen=True)
class SSLogRegParams:
    """The public parameters of a secret-shared training job."""

    job_id: str
    guest: str
    host: str
    dealer: str
    rows: int
    guest_features: int
    host_features: int
    epochs: int = 1
    batch_size: int = 0
    """Rows per mini-batch; 0 means full batch."""
    learning_rate: float = 0.15
    l2: float = 0.0
    fit_intercept: bool = True
    frac_bits: int = 20

    def __post_init__(self) -> None:
        if not 8 <= self.frac_bits <= 24:
            raise ValueError("frac_bits must be between 8 and 24")
        self.reference()  # the same checks as the Paillier back end (parties, sizes, leaky batches)

    def reference(self) -> LogRegParams:
        """The equivalent Paillier parameters (for ``plaintext_reference`` and the shared checks)."""
        return LogRegParams(
            self.job_id, Task.TRAIN, self.guest, self.host, self.dealer, self.rows, self.guest_features,
            self.host_features, epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
            l2=self.l2, fit_intercept=self.fit_intercept,
        )  # fmt: skip

    @property
    def guest_width(self) -> int:
        return self.guest_features + int(self.fit_intercept)

    def width(self, party: str) -> int:
        return self.guest_width if party == self.guest else self.host_features

    def other(self, party: str) -> str:
        return self.host if party == self.guest else self.guest

    def batches(self) -> list[tuple[int, int]]:
        size = self.batch_size or self.rows
        return [(s, min(size, self.rows - s)) for s in range(0, self.rows, size)]

    @property
    def steps(self) -> int:
        return self.epochs * len(self.batches())

    def triples_size(self, party: str) -> int:
        """Body of the dealer's message to ``party``: boxed seed plus the peer products' ``c`` shares."""
        return BOX_OVERHEAD + SEED_BYTES + self.steps * self.width(self.other(party)) * WORD

    def masked_size(self, party: str, rows: int) -> int:
        return rows * (self.width(party) + 1) * WORD

    def share_size(self, recipient: str) -> int:
        return self.width(recipient) * WORD

    def max_message_bytes(self) -> int:
        largest = max(m for _, m in self.batches())
        body = max(
            max(self.triples_size(p), self.masked_size(p, largest), self.share_size(p)) for p in (self.guest, self.host)
        )
        text = len(self.job_id) + len(PROTOCOL) + len(self.guest) + len(self.host) + len(self.dealer)
        return 4 * -(-body // 3) + 1024 + 6 * text


# --- fixed point in Z_2^64 and the dealer's expansion ------------------------------------------------------------


def to_ring(values: npt.ArrayLike, frac_bits: int) -> Ring:
    """``round(v * 2^frac_bits) mod 2^64`` (two's complement)."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) * float(1 << frac_bits))
    if np.abs(scaled).max(initial=0.0) >= 2.0**62:
        raise ValueError("value too large for the fixed-point ring")
    return scaled.astype(np.int64).view(np.uint64)


def from_ring(values: Ring, frac_bits: int) -> Array:
    """Inverse of ``to_ring``: residues at or above ``2^63`` are negative."""
    out: Array = values.view(np.int64).astype(np.float64) / float(1 << frac_bits)
    return out


def expand(seed: bytes, label: str, step: int, shape: tuple[int, ...]) -> Ring:
    """Uniform ``uint64`` values from SHAKE-256(seed, label, step): a PRG both the dealer and a party can run."""
    count = int(np.prod(shape)) if shape else 1
    stream = hashlib.shake_256(seed + f"|{label}|{step}".encode()).digest(count * WORD)
    return np.frombuffer(stream, dtype="<u8").astype(np.uint64).reshape(shape)


def matvec(matrix: Ring, vector: Ring) -> Ring:
    """``matrix^T vector`` mod ``2^64``."""
    out: Ring = matrix.T @ vector
    return out


@dataclass(frozen=True)
class StepTriples:
    """One party's correlated randomness for one step."""

    a_own: Ring
    """``A_P``: masks this party's matrix (rows x own width)."""
    c_own: Ring
    """``c_P``: this party's share of ``A_P^T b_Q`` (own width)."""
    b_peer: Ring
    """``b_P``: masks this party's residual share for the peer's product (rows)."""
    c_peer: Ring
    """``c_P'``: this party's share of ``A_Q^T b_P`` (peer width), sent explicitly by the dealer."""


def seeded_triples(seed: bytes, step: int, rows: int, own: int) -> tuple[Ring, Ring, Ring]:
    """``(A_P, c_P, b_P)`` for one step, expanded from a party's seed."""
    with np.errstate(over="ignore"):
        return expand(seed, "A", step, (rows, own)), expand(seed, "c", step, (own,)), expand(seed, "b", step, (rows,))


def deal(params: SSLogRegParams, seeds: Mapping[str, bytes]) -> dict[str, bytes]:
    """The explicit part for each party: ``c`` shares of the peer's products, all steps, little-endian."""
    parts: dict[str, list[Ring]] = {params.guest: [], params.host: []}
    for step in range(params.steps):
        _, rows = params.batches()[step % len(params.batches())]
        expanded = {p: seeded_triples(seeds[p], step, rows, params.width(p)) for p in parts}
        for p in parts:
            q = params.other(p)
            a_p, c_p, _ = expanded[p]
            b_q = expanded[q][2]
            with np.errstate(over="ignore"):
                parts[q].append(matvec(a_p, b_q) - c_p)  # c_Q for P's product
    return {p: b"".join(v.astype("<u8").tobytes() for v in vs) for p, vs in parts.items()}


# --- the per-role state machine ---------------------------------------------------------------------------------


class SSLogRegParty:
    """One party (guest, host, or the dealer as ``Role.ARBITER``) of a secret-shared training job."""

    def __init__(
        self,
        params: SSLogRegParams,
        role: Role,
        *,
        signing_key: SigningKey,
        peer_keys: Mapping[str, VerifyKey],
        features: npt.ArrayLike | None = None,
        labels: npt.ArrayLike | None = None,
    ) -> None:
        self.params = params
        self.role = role
        self.party_id = {Role.GUEST: params.guest, Role.HOST: params.host, Role.ARBITER: params.dealer}[role]
        self.peers = [p for p in (params.guest, params.host, params.dealer) if p != self.party_id]
        if set(peer_keys) != set(self.peers):
            raise ValueError("peer_keys must name exactly the other two parties")
        self._box_key = signing_key.to_curve25519_private_key()
        self._peer_box = {p: k.to_curve25519_public_key() for p, k in peer_keys.items()}
        self._x: Array = np.zeros((params.rows, 0))
        self._x_ring: Ring = np.zeros((params.rows, 0), dtype=np.uint64)
        self._y: Array = np.zeros(0)
        self._w: Array = np.zeros(0)
        self._b = 0.0
        if role is not Role.ARBITER:
            width = params.guest_features if role is Role.GUEST else params.host_features
            x = np.asarray(features, dtype=np.float64)
            if x.shape != (params.rows, width) or not np.isfinite(x).all():
                raise ValueError(f"features must be finite with shape ({params.rows}, {width})")
            self._x = np.hstack([x, np.ones((params.rows, 1))]) if role is Role.GUEST and params.fit_intercept else x
            self._x_ring = to_ring(self._x, params.frac_bits)
            self._w = np.zeros(self._x.shape[1])
        elif features is not None:
            raise ValueError("the dealer has no data")
        if role is Role.GUEST:
            y = np.asarray(labels, dtype=np.float64)
            if y.shape != (params.rows,) or not np.isin(y, (0.0, 1.0)).all():
                raise ValueError("labels must be 0/1 with one per row")
            self._y = y
        elif labels is not None:
            raise ValueError("only the guest has labels")
        self._outboxes = {
            peer: Outbox(job_id=params.job_id, protocol=PROTOCOL, party=self.party_id, key=signing_key)
            for peer in self.peers
        }
        self._mailbox = Mailbox(
            job_id=params.job_id, protocol=PROTOCOL, party=self.party_id, peers=peer_keys,
            max_message_bytes=params.max_message_bytes(),
        )  # fmt: skip
        self._seed = b""
        self._c_peer: Ring = np.zeros((0, 0), dtype=np.uint64)
        self._step = 0
        self._triples: StepTriples | None = None
        self._d_share: Ring = np.zeros(0, dtype=np.uint64)
        self._peer_f: Ring | None = None
        self._buffered: bytes | None = None
        self.state = "new"
        self.result: LogRegResult | None = None

    @property
    def done(self) -> bool:
        return self.state == "done"

    def start(self) -> Outgoing:
        if self.state != "new":
            raise ProtocolAbort(f"party is {self.state}, expected new")
        self.state = "running"
        if self.role is not Role.ARBITER:
            return []
        p = self.params
        seeds = {party: secrets.token_bytes(SEED_BYTES) for party in (p.guest, p.host)}  # fresh per job
        explicit = deal(p, seeds)
        out = []
        for party in (p.guest, p.host):
            boxed = Box(self._box_key, self._peer_box[party]).encrypt(seeds[party] + explicit[party])
            out.append(self._send(party, "triples", bytes(boxed)))
        self.state = "done"
        self.result = None
        return out

    def on_message(self, data: bytes) -> Outgoing:
        if self.state in ("aborted", "done", "new"):
            raise ProtocolAbort(f"job is {self.state}; no message is accepted")
        try:
            envelope = self._mailbox.accept(data)
            return self._dispatch(envelope.sender, envelope.kind, envelope.body)
        except ProtocolAbort:
            self._abort()
            raise
        except (ValueError, CryptoError) as exc:
            self._abort()
            raise ProtocolAbort(f"protocol failure: {exc}") from exc

    # --- helpers ----------------------------------------------------------------------------------------------

    def _abort(self) -> None:
        self.state = "aborted"
        self._seed = b""

    def _send(self, recipient: str, kind: str, body: bytes) -> tuple[str, bytes]:
        return recipient, self._outboxes[recipient].seal(recipient, kind, body)

    def _check(self, sender: str, kind: str, body: bytes, want_sender: str, want_kind: str, size: int) -> None:
        if (sender, kind) != (want_sender, want_kind):
            raise ProtocolAbort(f"unexpected message kind {kind!r} from {sender!r} in this state")
        if len(body) != size:
            raise ProtocolAbort(f"{kind} body has the wrong size for the declared parameters")

    def _batch(self) -> tuple[int, int]:
        batches = self.params.batches()
        return batches[self._step % len(batches)]

    @property
    def _peer(self) -> str:
        return self.params.other(self.party_id)

    def _dispatch(self, sender: str, kind: str, body: bytes) -> Outgoing:
        p = self.params
        if self.role is Role.ARBITER:
            raise ProtocolAbort("the dealer accepts no messages")
        if not self._seed:
            if sender == self._peer and kind == "masked" and self._buffered is None and self._step == 0:
                _, rows = self._batch()
                self._check(sender, kind, body, self._peer, "masked", p.masked_size(self._peer, rows))
                self._buffered = body
                return []
            self._check(sender, kind, body, p.dealer, "triples", p.triples_size(self.party_id))
            return self._on_triples(body)
        if self._peer_f is None:
            return self._on_masked(sender, kind, body)
        return self._on_share(sender, kind, body)

    def _on_triples(self, body: bytes) -> Outgoing:
        p = self.params
        plain = Box(self._box_key, self._peer_box[p.dealer]).decrypt(body)
        self._seed = plain[:SEED_BYTES]
        peer_width = p.width(self._peer)
        self._c_peer = np.frombuffer(plain[SEED_BYTES:], dtype="<u8").astype(np.uint64).reshape(p.steps, peer_width)
        out = self._send_masked()
        if self._buffered is not None:
            buffered, self._buffered = self._buffered, None
            out += self._on_masked(self._peer, "masked", buffered)
        return out

    def _send_masked(self) -> Outgoing:
        p = self.params
        start, rows = self._batch()
        a_own, c_own, b_peer = seeded_triples(self._seed, self._step, rows, p.width(self.party_id))
        self._triples = StepTriples(a_own, c_own, b_peer, self._c_peer[self._step])
        x = self._x[start : start + rows]
        u = x @ self._w
        own = 0.25 * u + 0.5 - self._y[start : start + rows] if self.role is Role.GUEST else 0.25 * u
        self._d_share = to_ring(own, p.frac_bits)
        with np.errstate(over="ignore"):
            e = self._x_ring[start : start + rows] - a_own
            f = self._d_share - b_peer
        body = e.astype("<u8").tobytes() + f.astype("<u8").tobytes()
        return [self._send(self._peer, "masked", body)]

    def _on_masked(self, sender: str, kind: str, body: bytes) -> Outgoing:
        p = self.params
        _, rows = self._batch()
        peer_width = p.width(self._peer)
        self._check(sender, kind, body, self._peer, "masked", p.masked_size(self._peer, rows))
        values = np.frombuffer(body, dtype="<u8").astype(np.uint64)
        e_peer = values[: rows * peer_width].reshape(rows, peer_width)
        self._peer_f = values[rows * peer_width :]
        if self._triples is None:
            raise ProtocolAbort("masked values before this party's triples")
        with np.errstate(over="ignore"):
            share = matvec(e_peer, self._triples.b_peer) + self._triples.c_peer
        return [self._send(self._peer, "share", share.astype("<u8").tobytes())]

    def _on_share(self, sender: str, kind: str, body: bytes) -> Outgoing:
        p = self.params
        start, rows = self._batch()
        self._check(sender, kind, body, self._peer, "share", p.share_size(self.party_id))
        if self._triples is None or self._peer_f is None:
            raise ProtocolAbort("share out of order")
        share = np.frombuffer(body, dtype="<u8").astype(np.uint64)
        with np.errstate(over="ignore"):
            total = matvec(self._x_ring[start : start + rows], self._d_share + self._peer_f)
            total = total + self._triples.c_own + share
        grad = from_ring(total, 2 * p.frac_bits) / rows
        penalty = self._w.copy()
        if self.role is Role.GUEST and p.fit_intercept:
            penalty[-1] = 0.0
        self._w = self._w - p.learning_rate * (grad + p.l2 * penalty)
        self._peer_f, self._triples = None, None
        self._step += 1
        if self._step == p.steps:
            self._finish()
            return []
        return self._send_masked()

    def _finish(self) -> None:
        p = self.params
        if self.role is Role.GUEST and p.fit_intercept:
            self.result = LogRegResult(weights=self._w[:-1].copy(), intercept=float(self._w[-1]))
        else:
            self.result = LogRegResult(weights=self._w.copy())
        self.state = "done"
        self._seed = b""


def reference(
    params: SSLogRegParams, x_guest: npt.ArrayLike, x_host: npt.ArrayLike, labels: npt.ArrayLike
) -> tuple[Array, float, Array]:
    """``logreg.plaintext_reference`` for these parameters: (guest weights, intercept, host weights)."""
    return plaintext_reference(params.reference(), x_guest, x_host, labels)


__all__ = [
    "PROTOCOL",
    "SSLogRegParams",
    "SSLogRegParty",
    "deal",
    "expand",
    "from_ring",
    "reference",
    "run_in_memory",
    "to_ring",
]
