"""Secure sum of integer vectors across many parties by pairwise masking (semi-honest, no dropouts).

Design: ``SumParams`` declares everything public — job id, the aggregator, the ordered contributing parties, the
vector length ``L``, the bound ``|x| <= bound`` on every input value, the minimum cohort size and optional
differential-privacy noise. Arithmetic is in the ring Z_{2^64} (NumPy ``uint64``, wrapping); the declared bound
guarantees ``parties * bound < 2^62``, so the signed total is recovered exactly from its residue. The aggregator
is a coordinator with no input of its own; it relays keys and learns only the total. Messages (star topology):

1. party -> aggregator ``key``: a fresh X25519 public key and the party's Ed25519 signature over it, bound to the
   job, protocol and party id.
2. aggregator -> every party ``keys``: all parties' signed keys in declared order. Each party checks every
   signature (so the aggregator cannot substitute keys) and its own entry.
3. party -> aggregator ``masked``: ``y_i = x_i + sum_{j>i} m_ij - sum_{j<i} m_ij (mod 2^64)``, where ``m_ij`` is
   the ChaCha20 keystream under ``seed_ij = BLAKE2b(X25519(sk_i, pk_j), protocol, pk_i, pk_j)``. The masks of each
   pair cancel in the sum; each ``y_i`` alone is uniformly distributed.
4. aggregator -> every party ``total``: the released total — exact, or with discrete Laplace noise
   (``DifferentialPrivacy``) added by the aggregator.

The aggregator refuses to release anything unless at least ``min_cohort`` parties contributed; a party refuses
to contribute to a cohort smaller than that. A party that drops out stalls the job, which then aborts: there is
no dropout recovery. The protocol name embeds a digest of the parameters, so parties that disagree on any
parameter abort on the first message. Message bodies have sizes fixed by the parameters.

``SumParty`` and ``SumAggregator`` are per-role state machines (``start()``, ``on_message()``, ``result``,
``done``) whose outputs are ``(recipient, wire bytes)`` pairs; ``run_in_memory`` drives any set of such
participants over an ``InMemoryNetwork``. ``docs/PRIVACY.md`` states the leakage and threat model.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from nacl.bindings import crypto_aead_chacha20poly1305_ietf_encrypt, crypto_scalarmult, crypto_scalarmult_base
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from tierflow.privacy.messages import Mailbox, Outbox, ProtocolAbort, canonical_json
from tierflow.privacy.transport import InMemoryNetwork

PROTOCOL_PREFIX = "secure-sum-v1"
X25519_BYTES = 32
SIGNATURE_BYTES = 64
BUNDLE_BYTES = X25519_BYTES + SIGNATURE_BYTES
VALUE_BYTES = 8
SUM_LIMIT = 2**62
"""``len(parties) * bound`` must stay below this, so totals (and totals plus noise) fit in int64."""
MAX_NOISE_SCALE = 2**40

Outgoing = tuple[str, bytes]
"""(recipient, sealed wire message)."""

Int64Array = npt.NDArray[np.int64]


# --- shared building blocks (also used by ``verify_claim``) ----------------------------------------------------


def params_digest(fields: Mapping[str, Any]) -> str:
    """A short digest of a protocol's public parameters, embedded in its protocol name."""
    return hashlib.sha256(canonical_json(fields)).hexdigest()[:32]


def max_wire_bytes(largest_body: int, texts: Iterable[str]) -> int:
    """Limit for one wire message: base64 of the largest body plus envelope overhead (as in ``psi``)."""
    return 4 * -(-largest_body // 3) + 1024 + 6 * sum(len(t) for t in texts)


def x25519_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 (secret, public) pair."""
    secret = secrets.token_bytes(X25519_BYTES)
    return secret, crypto_scalarmult_base(secret)


def shared_seed(secret: bytes, peer_public: bytes, context: bytes, first: bytes, second: bytes) -> bytes:
    """32-byte seed from an X25519 exchange, bound to ``context`` and both public keys in a fixed order."""
    try:
        shared = crypto_scalarmult(secret, peer_public)
    except (RuntimeError, ValueError, TypeError) as exc:  # libsodium rejects low-order points (all-zero secret)
        raise ProtocolAbort("invalid X25519 public key") from exc
    digest = hashlib.blake2b(digest_size=32, person=b"tierflow-x25519")
    for part in (shared, context, first, second):
        digest.update(len(part).to_bytes(4, "big") + part)
    return digest.digest()


def keystream(seed: bytes, length: int) -> bytes:
    """``length`` bytes of ChaCha20 keystream (RFC 8439, zero nonce, counter from 1) under the 32-byte ``seed``.

    Obtained as libsodium's ChaCha20-Poly1305 encryption of zero bytes with the tag discarded; each seed is used
    for exactly one stream."""
    return crypto_aead_chacha20poly1305_ietf_encrypt(bytes(length), None, bytes(12), seed)[:length]


class Participant(Protocol):
    """What ``run_in_memory`` needs from a per-role state machine."""

    @property
    def party_id(self) -> str: ...

    @property
    def done(self) -> bool: ...

    def start(self) -> list[Outgoing]: ...

    def on_message(self, data: bytes) -> list[Outgoing]: ...


def run_in_memory(participants: Sequence[Participant], network: InMemoryNetwork | None = None) -> InMemoryNetwork:
    """Run participants to completion over an in-memory network (one process); returns the network."""
    net = network if network is not None else InMemoryNetwork()
    by_id = {p.party_id: p for p in participants}
    if len(by_id) != len(participants):
        raise ValueError("participant ids must be distinct")
    for participant in participants:
        for recipient, data in participant.start():
            net.deliver(participant.party_id, recipient, data)
    while not all(p.done for p in participants):
        progressed = False
        for participant in participants:
            for sender in net.pending(participant.party_id):
                incoming = net.pop(sender, participant.party_id)
                if incoming is None:
                    continue
                progressed = True
                for recipient, data in participant.on_message(incoming):
                    net.deliver(participant.party_id, recipient, data)
        if not progressed:
            raise ProtocolAbort("protocol stalled: a message was lost or a party dropped out")
    return net


# --- differential privacy ------------------------------------------------------------------------------------


def _bernoulli(p: Fraction) -> bool:
    return secrets.randbelow(p.denominator) < p.numerator


def _bernoulli_exp(gamma: Fraction) -> bool:
    """Exact Bernoulli(exp(-gamma)) for rational gamma >= 0 (Canonne, Kamath, Steinke 2020, Algorithm 1)."""
    while gamma > 1:
        if not _bernoulli_exp(Fraction(1)):
            return False
        gamma -= 1
    k = 1
    while _bernoulli(gamma / k):
        k += 1
    return k % 2 == 1


def discrete_laplace(scale: Fraction) -> int:
    """Exact sample with ``P[z] ∝ exp(-|z| / scale)`` (Canonne, Kamath, Steinke 2020, Algorithm 2)."""
    t, s = scale.numerator, scale.denominator
    while True:
        u = secrets.randbelow(t)
        if not _bernoulli_exp(Fraction(u, t)):
            continue
        v = 0
        while _bernoulli_exp(Fraction(1)):
            v += 1
        y = (u + t * v) // s
        negative = secrets.randbelow(2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


@dataclass(frozen=True)
class DifferentialPrivacy:
    """Discrete Laplace noise of scale ``l1_sensitivity / epsilon`` on every coordinate of the total.

    The release is ``epsilon``-differentially private for inputs whose totals differ by at most ``l1_sensitivity``
    in L1 norm (summed over all coordinates), e.g. ``1`` for counts where one record changes one count by one."""

    epsilon: Fraction
    l1_sensitivity: int

    def __post_init__(self) -> None:
        epsilon = self.epsilon
        if isinstance(epsilon, float):
            epsilon = Fraction(str(epsilon))
        object.__setattr__(self, "epsilon", Fraction(epsilon))
        if self.epsilon <= 0 or self.l1_sensitivity < 1:
            raise ValueError("epsilon must be positive and l1_sensitivity at least 1")
        if self.scale > MAX_NOISE_SCALE:
            raise ValueError("noise scale l1_sensitivity / epsilon is too large")

    @property
    def scale(self) -> Fraction:
        return self.l1_sensitivity / self.epsilon

    def noise(self, length: int) -> Int64Array:
        return np.array([discrete_laplace(self.scale) for _ in range(length)], dtype=np.int64)


# --- parameters and results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SumParams:
    """The public parameters every participant agrees on before a run."""

    job_id: str
    aggregator: str
    parties: tuple[str, ...]
    length: int
    bound: int
    min_cohort: int
    dp: DifferentialPrivacy | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "parties", tuple(self.parties))
        ids = (self.aggregator, *self.parties)
        if len(set(ids)) != len(ids) or not all(ids):
            raise ValueError("party ids must be non-empty and distinct, and the aggregator is not a contributor")
        if self.min_cohort < 2:
            raise ValueError("min_cohort must be at least 2")
        if len(self.parties) < self.min_cohort:
            raise ValueError(f"{len(self.parties)} parties are fewer than the minimum cohort of {self.min_cohort}")
        if self.length < 1 or self.bound < 1:
            raise ValueError("length and bound must be positive")
        if len(self.parties) * self.bound >= SUM_LIMIT:
            raise ValueError("parties * bound must be below 2^62")

    @property
    def protocol(self) -> str:
        dp = None if self.dp is None else {"epsilon": str(self.dp.epsilon), "l1": self.dp.l1_sensitivity}
        fields = {
            "job_id": self.job_id, "aggregator": self.aggregator, "parties": list(self.parties),
            "length": self.length, "bound": self.bound, "min_cohort": self.min_cohort, "dp": dp,
        }  # fmt: skip
        return f"{PROTOCOL_PREFIX}/{params_digest(fields)}"

    def body_sizes(self) -> dict[str, int]:
        """Exact body size of each message kind: functions of the public parameters only."""
        vector = self.length * VALUE_BYTES
        return {"key": BUNDLE_BYTES, "keys": len(self.parties) * BUNDLE_BYTES, "masked": vector, "total": vector}

    def max_message_bytes(self) -> int:
        return max_wire_bytes(max(self.body_sizes().values()), (self.job_id, self.protocol, *self.parties[:2]))


@dataclass(frozen=True)
class SumResult:
    """The released total (int64, read-only), the number of contributors and whether noise was added."""

    total: Int64Array = field(repr=False)
    contributors: int
    noised: bool


def plaintext_sum(vectors: Iterable[Sequence[int] | npt.NDArray[Any]]) -> list[int]:
    """The reference computation: coordinate-wise sum in Python integers."""
    rows = [[int(v) for v in vector] for vector in vectors]
    return [sum(column) for column in zip(*rows, strict=True)]


def key_statement(context: bytes, party: str, public: bytes) -> bytes:
    """What a party signs to vouch for its X25519 key: length-prefixed label, protocol context, party id, key."""
    parts = (b"tierflow-x25519-key", context, party.encode("utf-8"), public)
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _readonly(array: Int64Array) -> Int64Array:
    array.setflags(write=False)
    return array


def _decode(body: bytes, dtype: str) -> npt.NDArray[Any]:
    return np.frombuffer(body, dtype=dtype)


class _Machine:
    """Common state handling: abort for good on the first failure."""

    party_id: str
    state: str
    _mailbox: Mailbox

    @property
    def done(self) -> bool:
        return self.state == "done"

    def _accept(self, data: bytes, sizes: Mapping[str, int]) -> tuple[str, str, bytes]:
        if self.state in ("aborted", "done"):
            raise ProtocolAbort(f"job is {self.state}; no further messages are accepted")
        envelope = self._mailbox.accept(data)
        if len(envelope.body) != sizes.get(envelope.kind, -1):
            raise ProtocolAbort(f"{envelope.kind!r} body has the wrong size for the declared parameters")
        return envelope.sender, envelope.kind, envelope.body


# --- roles ---------------------------------------------------------------------------------------------------


class SumParty(_Machine):
    """A contributing party: sends its masked vector, receives the released total."""

    def __init__(
        self,
        params: SumParams,
        party_id: str,
        values: Sequence[int] | npt.NDArray[Any],
        *,
        signing_key: SigningKey,
        verify_keys: Mapping[str, VerifyKey],
    ) -> None:
        if party_id not in params.parties:
            raise ValueError(f"{party_id!r} is not a declared party")
        missing = [p for p in (params.aggregator, *params.parties) if p != party_id and p not in verify_keys]
        if missing:
            raise ValueError(f"verify keys missing for {missing}")
        array = np.asarray(values)
        if array.dtype.kind not in "iu":
            raise TypeError("values must be integers (within int64)")
        if array.shape != (params.length,):
            raise ValueError(f"expected {params.length} values, got shape {array.shape}")
        if int(array.min()) < -params.bound or int(array.max()) > params.bound:
            raise ValueError(f"a value exceeds the declared bound {params.bound}")
        self.params = params
        self.party_id = party_id
        self.index = params.parties.index(party_id)
        self._values = array.astype(np.int64).view(np.uint64)
        self._signing_key = signing_key
        self._verify_keys = {p: verify_keys[p] for p in params.parties if p != party_id}
        self._outbox = Outbox(job_id=params.job_id, protocol=params.protocol, party=party_id, key=signing_key)
        self._mailbox = Mailbox(
            job_id=params.job_id, protocol=params.protocol, party=party_id,
            peers={params.aggregator: verify_keys[params.aggregator]}, max_message_bytes=params.max_message_bytes(),
        )  # fmt: skip
        self._context = params.protocol.encode("utf-8")
        self._secret, self._public = x25519_keypair()  # fresh per run
        self._bundle = b""
        self.state = "new"
        self.result: SumResult | None = None

    def start(self) -> list[Outgoing]:
        if self.state != "new":
            raise ProtocolAbort(f"party is {self.state}, expected new")
        statement = key_statement(self._context, self.party_id, self._public)
        self._bundle = self._public + self._signing_key.sign(statement).signature
        self.state = "wait_keys"
        return [(self.params.aggregator, self._outbox.seal(self.params.aggregator, "key", self._bundle))]

    def on_message(self, data: bytes) -> list[Outgoing]:
        try:
            _, kind, body = self._accept(data, self.params.body_sizes())
            expected = {"wait_keys": "keys", "wait_total": "total"}.get(self.state)
            if kind != expected:
                raise ProtocolAbort(f"unexpected message kind {kind!r} in state {self.state}")
            if kind == "keys":
                return self._on_keys(body)
            total = _readonly(_decode(body, "<i8").astype(np.int64))
            self.result = SumResult(total, len(self.params.parties), self.params.dp is not None)
            self.state = "done"
            return []
        except ProtocolAbort:
            self.state = "aborted"
            raise

    def _on_keys(self, body: bytes) -> list[Outgoing]:
        params = self.params
        bundles = [body[i : i + BUNDLE_BYTES] for i in range(0, len(body), BUNDLE_BYTES)]
        if len(bundles) < params.min_cohort:
            raise ProtocolAbort("cohort below the declared minimum")
        if bundles[self.index] != self._bundle:
            raise ProtocolAbort("our own key was altered")
        publics = [b[:X25519_BYTES] for b in bundles]
        if len(set(publics)) != len(publics):
            raise ProtocolAbort("duplicate X25519 keys")
        context = self._context
        mask = np.zeros(params.length, dtype=np.uint64)
        for j, (peer, bundle) in enumerate(zip(params.parties, bundles, strict=True)):
            if j == self.index:
                continue
            public, signature = bundle[:X25519_BYTES], bundle[X25519_BYTES:]
            try:
                self._verify_keys[peer].verify(key_statement(self._context, peer, public), signature)
            except (BadSignatureError, ValueError) as exc:
                raise ProtocolAbort(f"key of {peer!r} is not signed by it") from exc
            low, high = (self._public, public) if self.index < j else (public, self._public)
            seed = shared_seed(self._secret, public, context, low, high)
            stream = _decode(keystream(seed, params.length * VALUE_BYTES), "<u8")
            if self.index < j:
                mask += stream
            else:
                mask -= stream
        self._secret = b""
        masked = (self._values + mask).astype("<u8").tobytes()
        self.state = "wait_total"
        return [(params.aggregator, self._outbox.seal(params.aggregator, "masked", masked))]


class SumAggregator(_Machine):
    """The coordinator: relays signed keys, adds up the masked vectors, releases the total (noised if configured)."""

    def __init__(self, params: SumParams, *, signing_key: SigningKey, verify_keys: Mapping[str, VerifyKey]) -> None:
        missing = [p for p in params.parties if p not in verify_keys]
        if missing:
            raise ValueError(f"verify keys missing for {missing}")
        self.params = params
        self.party_id = params.aggregator
        self._verify_keys = {p: verify_keys[p] for p in params.parties}
        self._outboxes = {  # sequence numbers run per (sender, recipient): one outbox per recipient
            p: Outbox(job_id=params.job_id, protocol=params.protocol, party=self.party_id, key=signing_key)
            for p in params.parties
        }
        self._mailbox = Mailbox(
            job_id=params.job_id, protocol=params.protocol, party=self.party_id, peers=self._verify_keys,
            max_message_bytes=params.max_message_bytes(),
        )  # fmt: skip
        self._context = params.protocol.encode("utf-8")
        self._bundles: dict[str, bytes] = {}
        self._contributed: set[str] = set()
        self._sum = np.zeros(params.length, dtype=np.uint64)
        self.state = "new"
        self.result: SumResult | None = None

    def start(self) -> list[Outgoing]:
        if self.state != "new":
            raise ProtocolAbort(f"aggregator is {self.state}, expected new")
        self.state = "wait_keys"
        return []

    def on_message(self, data: bytes) -> list[Outgoing]:
        try:
            sender, kind, body = self._accept(data, self.params.body_sizes())
            if self.state == "wait_keys" and kind == "key" and sender not in self._bundles:
                return self._on_key(sender, body)
            if self.state == "wait_masked" and kind == "masked" and sender not in self._contributed:
                return self._on_masked(sender, body)
            raise ProtocolAbort(f"unexpected message kind {kind!r} from {sender!r} in state {self.state}")
        except ProtocolAbort:
            self.state = "aborted"
            raise

    def _on_key(self, sender: str, body: bytes) -> list[Outgoing]:
        public, signature = body[:X25519_BYTES], body[X25519_BYTES:]
        try:
            self._verify_keys[sender].verify(key_statement(self._context, sender, public), signature)
        except (BadSignatureError, ValueError) as exc:
            raise ProtocolAbort(f"key of {sender!r} is not signed by it") from exc
        self._bundles[sender] = body
        if len(self._bundles) < len(self.params.parties):
            return []
        keys = b"".join(self._bundles[p] for p in self.params.parties)
        self.state = "wait_masked"
        return [(p, self._outboxes[p].seal(p, "keys", keys)) for p in self.params.parties]

    def _on_masked(self, sender: str, body: bytes) -> list[Outgoing]:
        self._sum += _decode(body, "<u8")
        self._contributed.add(sender)
        if len(self._contributed) < len(self.params.parties):
            return []
        params = self.params
        if len(self._contributed) < params.min_cohort:  # unreachable without dropouts; kept as the release rule
            raise ProtocolAbort("cohort below the declared minimum: nothing is released")
        total = self._sum.view(np.int64).copy()
        self._sum = np.zeros(0, dtype=np.uint64)
        if params.dp is not None:
            noise = params.dp.noise(params.length)
            if np.any(np.abs(noise) >= SUM_LIMIT):
                raise ProtocolAbort("noise sample out of range")
            total += noise
        self.result = SumResult(_readonly(total), len(self._contributed), params.dp is not None)
        self.state = "done"
        wire = total.astype("<i8").tobytes()
        return [(p, self._outboxes[p].seal(p, "total", wire)) for p in params.parties]
