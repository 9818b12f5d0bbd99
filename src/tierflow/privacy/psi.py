"""ECDH private set intersection over ristretto255 (semi-honest), in four variants.

Design: two parties, the *initiator* A and the *responder* B, agree out of band on ``PsiParams`` (job id, variant,
party ids, the declared maximum set size of each side and, for ``PAYLOAD``, the maximum payload size). Each hashes
its items to the group with RFC 9380 ``hash_to_ristretto255`` (``H``), draws a fresh secret scalar per run, pads
its set with random points to its declared maximum and shuffles, so every message's size depends only on the
public parameters. Messages:

1. A -> B ``masked``: ``H(x)^a`` for A's items.
2. B -> A ``reply``: ``(H(x)^a)^b`` in A's order (re-shuffled for ``CARDINALITY``), then either ``H(y)^b`` for
   B's items or, for ``PAYLOAD``, one record per item: ``tag = KDF(H(y)^b)`` and the payload encrypted with
   XChaCha20-Poly1305 under ``key = KDF(H(y)^b)``.
3. A -> B ``double`` (``BOTH`` only): ``(H(y)^b)^a`` in B's order.

Outputs: ``BOTH`` — each side its items in the intersection; ``ONE`` — A the intersection, B nothing;
``CARDINALITY`` — A only the intersection's size; ``PAYLOAD`` — A the intersection with B's payload of each
intersecting item (A unblinds ``(H(x)^a)^b`` with ``a^-1`` to get ``H(x)^b``, an OPRF of x under B's key, and can
therefore derive tags and keys only for its own items). ``docs/PRIVACY.md`` states what each variant leaks.

``PsiParty`` is the per-role state machine: ``start()`` and ``on_message()`` return sealed wire messages for the
peer; every incoming message goes through a ``messages.Mailbox`` and any failure aborts the job for good.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from tierflow.privacy import ristretto
from tierflow.privacy.messages import Mailbox, Outbox, ProtocolAbort
from tierflow.privacy.transport import InMemoryNetwork

POINT = ristretto.POINT_BYTES
TAG_BYTES = 32
NONCE_BYTES = 24
AEAD_OVERHEAD = 16
LENGTH_PREFIX = 4
PROTOCOL_PREFIX = "psi-ecdh-ristretto255-v1"
_KDF_SALT = b"tierflow-psi-v1-payload"

Item = bytes | str


class Variant(enum.StrEnum):
    BOTH = "both"
    ONE = "one"
    CARDINALITY = "cardinality"
    PAYLOAD = "payload"


class Role(enum.StrEnum):
    INITIATOR = "initiator"
    RESPONDER = "responder"


@dataclass(frozen=True)
class PsiParams:
    """The public parameters both parties agree on before a run."""

    job_id: str
    variant: Variant
    initiator: str
    responder: str
    max_items_initiator: int
    max_items_responder: int
    max_payload_bytes: int = 0

    def __post_init__(self) -> None:
        if self.initiator == self.responder:
            raise ValueError("the two parties must differ")
        if self.max_items_initiator < 1 or self.max_items_responder < 1:
            raise ValueError("declared set sizes must be positive")
        if self.max_payload_bytes < 0 or (self.variant is not Variant.PAYLOAD and self.max_payload_bytes):
            raise ValueError("max_payload_bytes applies to the PAYLOAD variant only")

    @property
    def protocol(self) -> str:
        return f"{PROTOCOL_PREFIX}/{self.variant.value}"

    @property
    def record_bytes(self) -> int:
        """Size of one PAYLOAD record: tag, nonce, then the sealed length-prefixed padded payload."""
        return TAG_BYTES + NONCE_BYTES + LENGTH_PREFIX + self.max_payload_bytes + AEAD_OVERHEAD

    def body_sizes(self) -> dict[str, int]:
        """Exact body size of each message kind: functions of the public parameters only."""
        na, nb = self.max_items_initiator, self.max_items_responder
        second = nb * (self.record_bytes if self.variant is Variant.PAYLOAD else POINT)
        sizes = {"masked": na * POINT, "reply": na * POINT + second}
        if self.variant is Variant.BOTH:
            sizes["double"] = nb * POINT
        return sizes

    def max_message_bytes(self) -> int:
        """Limit for one wire message: base64 of the largest body plus envelope overhead."""
        body = max(self.body_sizes().values())
        text = len(self.job_id) + len(self.protocol) + len(self.initiator) + len(self.responder)
        return 4 * -(-body // 3) + 1024 + 6 * text


@dataclass(frozen=True)
class PsiResult:
    """What a party learned. ``intersection`` is ``None`` for ``CARDINALITY``; ``payloads`` only for ``PAYLOAD``."""

    cardinality: int
    intersection: frozenset[bytes] | None = None
    payloads: Mapping[bytes, bytes] | None = None


def normalise(item: Item) -> bytes:
    """Items are bytes; strings become UTF-8 of their NFC form."""
    if isinstance(item, str):
        return unicodedata.normalize("NFC", item).encode("utf-8")
    if isinstance(item, bytes):
        return item
    raise TypeError("PSI items must be bytes or str")


def _kdf(point: bytes, label: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869), one 32-byte output block."""
    prk = hmac.digest(_KDF_SALT, point, hashlib.sha256)
    return hmac.digest(prk, label + info + b"\x01", hashlib.sha256)


def _random_points(count: int) -> list[bytes]:
    return [ristretto.from_uniform_bytes(os.urandom(ristretto.UNIFORM_BYTES)) for _ in range(count)]


def _split(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def _check_points(points: Sequence[bytes]) -> None:
    if len(set(points)) != len(points):
        raise ProtocolAbort("duplicate group elements in a received set")
    for point in points:
        if point == ristretto.IDENTITY or not ristretto.is_valid_point(point):
            raise ProtocolAbort("invalid or identity group element received")


class PsiParty:
    """One side of a PSI run: a state machine over sealed messages."""

    def __init__(
        self,
        params: PsiParams,
        role: Role,
        items: Iterable[Item],
        *,
        signing_key: SigningKey,
        peer_key: VerifyKey,
        payloads: Mapping[Item, bytes] | None = None,
        workers: int = 1,
    ) -> None:
        self.params = params
        self.role = role
        self.workers = workers
        initiator = role is Role.INITIATOR
        self.party_id = params.initiator if initiator else params.responder
        self.peer_id = params.responder if initiator else params.initiator
        self._limit = params.max_items_initiator if initiator else params.max_items_responder
        self._payloads: dict[bytes, bytes] = {}
        if payloads is not None:
            if params.variant is not Variant.PAYLOAD or initiator:
                raise ValueError("only the PAYLOAD responder has payloads")
            self._payloads = {normalise(k): v for k, v in payloads.items()}
        self._items = sorted(set(map(normalise, items)) | set(self._payloads))
        if len(self._items) > self._limit:
            raise ValueError(f"{len(self._items)} items exceed the declared maximum of {self._limit}")
        if params.variant is Variant.PAYLOAD and not initiator:
            missing = [i for i in self._items if i not in self._payloads]
            if missing:
                raise ValueError("every responder item needs a payload")
            if any(len(p) > params.max_payload_bytes for p in self._payloads.values()):
                raise ValueError("a payload exceeds max_payload_bytes")
        self._outbox = Outbox(job_id=params.job_id, protocol=params.protocol, party=self.party_id, key=signing_key)
        self._mailbox = Mailbox(
            job_id=params.job_id, protocol=params.protocol, party=self.party_id, peers={self.peer_id: peer_key},
            max_message_bytes=params.max_message_bytes(),
        )  # fmt: skip
        self._scalar = ristretto.scalar_random()  # fresh per run
        self._order: list[bytes | None] = []  # our padded, shuffled positions -> item (None: padding)
        self._peer_double: list[bytes] = []  # responder (BOTH): (H(x)^a)^b as computed here
        self.state = "new"
        self.result: PsiResult | None = None

    # --- public state machine ---------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.state == "done"

    def start(self) -> list[bytes]:
        self._expect("new")
        if self.role is Role.RESPONDER:
            self.state = "wait_masked"
            return []
        self.state = "wait_reply"
        return [self._send("masked", b"".join(self._masked_points()))]

    def on_message(self, data: bytes) -> list[bytes]:
        if self.state in ("aborted", "done"):
            raise ProtocolAbort(f"job is {self.state}; no further messages are accepted")
        try:
            envelope = self._mailbox.accept(data)
            expected = {"wait_masked": "masked", "wait_reply": "reply", "wait_double": "double"}.get(self.state)
            if envelope.kind != expected:
                raise ProtocolAbort(f"unexpected message kind {envelope.kind!r} in state {self.state}")
            if len(envelope.body) != self.params.body_sizes()[envelope.kind]:
                raise ProtocolAbort(f"{envelope.kind} body has the wrong size for the declared parameters")
            if envelope.kind == "masked":
                return self._on_masked(envelope.body)
            if envelope.kind == "reply":
                return self._on_reply(envelope.body)
            return self._on_double(envelope.body)
        except ProtocolAbort:
            self.state = "aborted"
            raise
        except (ristretto.GroupError, ValueError, CryptoError) as exc:
            self.state = "aborted"
            raise ProtocolAbort(f"protocol failure: {exc}") from exc

    # --- steps ------------------------------------------------------------------------------------------------

    def _expect(self, state: str) -> None:
        if self.state != state:
            raise ProtocolAbort(f"party is {self.state}, expected {state}")

    def _send(self, kind: str, body: bytes) -> bytes:
        return self._outbox.seal(self.peer_id, kind, body)

    def _shuffled_items(self) -> list[bytes | None]:
        order: list[bytes | None] = [*self._items, *([None] * (self._limit - len(self._items)))]
        secrets.SystemRandom().shuffle(order)
        return order

    def _keyed_items(self) -> dict[bytes, bytes]:
        """``H(item)^k`` for each of our items, under our scalar ``k``."""
        hashed = ristretto.hash_to_group_many(self._items, workers=self.workers)
        keyed = ristretto.scalarmult_many(self._scalar, hashed, workers=self.workers)
        return dict(zip(self._items, keyed, strict=True))

    def _masked_points(self) -> list[bytes]:
        """``H(item)^k`` for our items plus random padding points, shuffled; remembers the order."""
        self._order = self._shuffled_items()
        masked = self._keyed_items()
        padding = iter(_random_points(self._limit - len(self._items)))
        return [masked[item] if item is not None else next(padding) for item in self._order]

    def _on_masked(self, body: bytes) -> list[bytes]:
        """Responder: exponentiate A's set, add our own, reply."""
        theirs = _split(body, POINT)
        _check_points(theirs)
        double = ristretto.scalarmult_many(self._scalar, theirs, workers=self.workers)
        variant = self.params.variant
        if variant is Variant.CARDINALITY:
            secrets.SystemRandom().shuffle(double)  # positions must not link back to A's items
        second = b"".join(self._payload_records() if variant is Variant.PAYLOAD else self._masked_points())
        self._peer_double = double
        if variant is Variant.BOTH:
            self.state = "wait_double"
        else:
            self.state = "done"
            self._order = []
        return [self._send("reply", b"".join(double) + second)]

    def _payload_records(self) -> list[bytes]:
        params = self.params
        info = params.job_id.encode("utf-8")
        self._order = self._shuffled_items()
        keyed = self._keyed_items()
        records = []
        for item in self._order:
            if item is None:
                records.append(os.urandom(params.record_bytes))
                continue
            point = keyed[item]
            payload = self._payloads[item]
            padded = len(payload).to_bytes(LENGTH_PREFIX, "big") + payload.ljust(params.max_payload_bytes, b"\0")
            nonce = os.urandom(NONCE_BYTES)
            sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(padded, info, nonce, _kdf(point, b"key", info))
            records.append(_kdf(point, b"tag", info) + nonce + sealed)
        return records

    def _on_reply(self, body: bytes) -> list[bytes]:
        """Initiator: compare and compute our output."""
        params = self.params
        split_at = params.max_items_initiator * POINT
        double = _split(body[:split_at], POINT)
        _check_points(double)
        rest = body[split_at:]
        variant = params.variant
        if variant is Variant.PAYLOAD:
            self.result = self._open_payloads(double, _split(rest, params.record_bytes))
            self.state = "done"
            return []
        theirs = _split(rest, POINT)
        _check_points(theirs)
        their_double = ristretto.scalarmult_many(self._scalar, theirs, workers=self.workers)
        their_set = set(their_double)
        if variant is Variant.CARDINALITY:
            self.result = PsiResult(cardinality=len(their_set.intersection(double)))
        else:
            common = frozenset(i for i, d in zip(self._order, double, strict=True) if i is not None and d in their_set)
            self.result = PsiResult(cardinality=len(common), intersection=common)
        self._order = []
        if variant is Variant.BOTH:
            self.state = "done"
            return [self._send("double", b"".join(their_double))]
        self.state = "done"
        return []

    def _open_payloads(self, double: Sequence[bytes], records: Sequence[bytes]) -> PsiResult:
        info = self.params.job_id.encode("utf-8")
        by_tag = {r[:TAG_BYTES]: r[TAG_BYTES:] for r in records}
        if len(by_tag) != len(records):
            raise ProtocolAbort("duplicate payload tags")
        unblind = ristretto.scalar_invert(self._scalar)
        payloads: dict[bytes, bytes] = {}
        for item, point in zip(self._order, double, strict=True):
            if item is None:
                continue
            oprf = ristretto.scalarmult(unblind, point)  # H(x)^b
            record = by_tag.get(_kdf(oprf, b"tag", info))
            if record is None:
                continue
            nonce, sealed = record[:NONCE_BYTES], record[NONCE_BYTES:]
            padded = crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, info, nonce, _kdf(oprf, b"key", info))
            length = int.from_bytes(padded[:LENGTH_PREFIX], "big")
            if length > self.params.max_payload_bytes:
                raise ProtocolAbort("payload length out of range")
            payloads[item] = padded[LENGTH_PREFIX : LENGTH_PREFIX + length]
        self._order = []
        return PsiResult(cardinality=len(payloads), intersection=frozenset(payloads), payloads=payloads)

    def _on_double(self, body: bytes) -> list[bytes]:
        """Responder (BOTH): our set exponentiated by A, in our order; compare with A's doubled set."""
        ours = _split(body, POINT)
        _check_points(ours)
        theirs = set(self._peer_double)
        common = frozenset(i for i, d in zip(self._order, ours, strict=True) if i is not None and d in theirs)
        self.result = PsiResult(cardinality=len(common), intersection=common)
        self._order, self._peer_double = [], []
        self.state = "done"
        return []


def run_in_memory(a: PsiParty, b: PsiParty, network: InMemoryNetwork | None = None) -> InMemoryNetwork:
    """Run two parties to completion over an in-memory network; returns the network (its tap holds the run)."""
    net = network if network is not None else InMemoryNetwork()
    parties = {a.party_id: a, b.party_id: b}
    for party in parties.values():
        for first in party.start():
            net.deliver(party.party_id, party.peer_id, first)
    while not all(p.done for p in parties.values()):
        progressed = False
        for party in parties.values():
            incoming = net.pop(party.peer_id, party.party_id)
            if incoming is None:
                continue
            progressed = True
            for reply in party.on_message(incoming):
                net.deliver(party.party_id, party.peer_id, reply)
        if not progressed:
            raise ProtocolAbort("protocol stalled: a message was lost")
    return net
