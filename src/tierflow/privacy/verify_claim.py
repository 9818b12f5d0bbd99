"""Claim verification: is a claimed amount within a declared tolerance of another institution's record?

Design: three roles agree on ``ClaimParams`` — the *claimant* C holding a claim ``c`` (e.g. a supplier's declared
turnover), the *holder* H holding a record ``r`` (e.g. the core enterprise's purchase total), and a *coordinator*
K that learns the verdict and nothing else. Values are integers in ``[0, 2^bits)`` (money in minor units,
counts). The tolerance is public: accept iff ``|c - r| <= absolute + relative * base``, where ``base`` is ``c``
(``Basis.CLAIM``) or ``r`` (``Basis.RECORD``, with ``relative < 1``). For fixed ``c`` the accepted records form an
integer interval ``[lo, hi]`` that C computes exactly (rational arithmetic).

Interval membership is reduced to set intersection by prefix encoding: ``[lo, hi]`` is the disjoint union of at
most ``2·bits`` dyadic blocks ``(level k, prefix p)`` = ``{x : x >> k == p}``, and ``r`` lies in the interval iff
exactly one of its ``bits + 1`` prefixes ``(k, r >> k)`` is one of those blocks. C and H derive a key ``k_CH`` by
X25519 (fresh per run) that K never sees, and send K keyed BLAKE2b tags of their blocks / prefixes:

1. C -> H and H -> C ``key``: fresh X25519 public keys (envelopes signed as usual).
2. C -> K ``cover``: ``2·bits`` tags — one per block of C's interval, the rest random padding — shuffled.
3. H -> K ``prefixes``: ``bits + 1`` tags of r's prefixes, shuffled.
4. K -> C and K -> H ``verdict``: one byte, 1 iff exactly one tag is shared.

K sees only pseudorandom, distinct tags of fixed count, so it learns the bit and nothing else (unless it colludes
with C or H: see ``docs/PRIVACY.md``). ``ClaimParty`` is the per-role state machine; drive the three with
``secure_sum.run_in_memory``.
"""

from __future__ import annotations

import enum
import hashlib
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from nacl.signing import SigningKey, VerifyKey

from tierflow.privacy.messages import Mailbox, Outbox, ProtocolAbort
from tierflow.privacy.secure_sum import (
    X25519_BYTES,
    Outgoing,
    max_wire_bytes,
    params_digest,
    shared_seed,
    x25519_keypair,
)

PROTOCOL_PREFIX = "verify-claim-prefix-v1"
TAG_BYTES = 32
MAX_BITS = 64


class Basis(enum.StrEnum):
    CLAIM = "claim"
    RECORD = "record"


class ClaimRole(enum.StrEnum):
    CLAIMANT = "claimant"
    HOLDER = "holder"
    COORDINATOR = "coordinator"


@dataclass(frozen=True)
class ClaimParams:
    """The public parameters all three roles agree on before a run."""

    job_id: str
    claimant: str
    holder: str
    coordinator: str
    bits: int
    absolute: int = 0
    relative: Fraction = Fraction(0)
    basis: Basis = Basis.CLAIM

    def __post_init__(self) -> None:
        object.__setattr__(self, "relative", Fraction(self.relative))
        ids = (self.claimant, self.holder, self.coordinator)
        if len(set(ids)) != 3 or not all(ids):
            raise ValueError("the three party ids must be non-empty and distinct")
        if not 1 <= self.bits <= MAX_BITS:
            raise ValueError(f"bits must be between 1 and {MAX_BITS}")
        if self.absolute < 0 or self.relative < 0:
            raise ValueError("tolerances must be non-negative")
        if self.basis is Basis.RECORD and self.relative >= 1:
            raise ValueError("a tolerance relative to the record must be below 1")

    @property
    def protocol(self) -> str:
        fields = {
            "job_id": self.job_id, "claimant": self.claimant, "holder": self.holder, "coordinator": self.coordinator,
            "bits": self.bits, "absolute": self.absolute, "relative": str(self.relative), "basis": self.basis.value,
        }  # fmt: skip
        return f"{PROTOCOL_PREFIX}/{params_digest(fields)}"

    @property
    def cover_tags(self) -> int:
        return 2 * self.bits

    @property
    def prefix_tags(self) -> int:
        return self.bits + 1

    def body_sizes(self) -> dict[str, int]:
        """Exact body size of each message kind: functions of the public parameters only."""
        return {
            "key": X25519_BYTES, "cover": self.cover_tags * TAG_BYTES, "prefixes": self.prefix_tags * TAG_BYTES,
            "verdict": 1,
        }  # fmt: skip

    def max_message_bytes(self) -> int:
        texts = (self.job_id, self.protocol, self.claimant, self.holder, self.coordinator)
        return max_wire_bytes(max(self.body_sizes().values()), texts)

    def check_value(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("values must be integers")
        if not 0 <= value < 2**self.bits:
            raise ValueError(f"value out of the declared range [0, 2^{self.bits})")

    def interval(self, claim: int) -> tuple[int, int]:
        """The records accepted for ``claim``, as ``[lo, hi]`` clipped to the value range."""
        self.check_value(claim)
        if self.basis is Basis.CLAIM:
            slack = math.floor(self.absolute + self.relative * claim)
            lo, hi = claim - slack, claim + slack
        else:
            lo = math.ceil(Fraction(claim - self.absolute) / (1 + self.relative))
            hi = math.floor(Fraction(claim + self.absolute) / (1 - self.relative))
        return max(lo, 0), min(hi, 2**self.bits - 1)


def within_tolerance(params: ClaimParams, claim: int, record: int) -> bool:
    """The plaintext computation the protocol reproduces."""
    params.check_value(claim)
    params.check_value(record)
    base = claim if params.basis is Basis.CLAIM else record
    return abs(claim - record) <= params.absolute + params.relative * base


def dyadic_cover(lo: int, hi: int, bits: int) -> list[tuple[int, int]]:
    """The minimal disjoint blocks ``(level, prefix)`` whose union is ``[lo, hi]`` within ``[0, 2^bits)``."""
    blocks: list[tuple[int, int]] = []
    while lo <= hi:
        level = 0
        while level < bits and lo % (2 ** (level + 1)) == 0 and lo + 2 ** (level + 1) - 1 <= hi:
            level += 1
        blocks.append((level, lo >> level))
        lo += 2**level
    return blocks


def prefixes(value: int, bits: int) -> list[tuple[int, int]]:
    """All ``bits + 1`` blocks containing ``value``."""
    return [(level, value >> level) for level in range(bits + 1)]


def _tag(key: bytes, block: tuple[int, int]) -> bytes:
    level, prefix = block
    data = level.to_bytes(1, "big") + prefix.to_bytes(8, "big")
    return hashlib.blake2b(data, digest_size=TAG_BYTES, key=key, person=b"tierflow-prefix").digest()


def _split(body: bytes) -> list[bytes]:
    return [body[i : i + TAG_BYTES] for i in range(0, len(body), TAG_BYTES)]


class ClaimParty:
    """One role of a claim verification: a state machine over sealed messages; ``result`` is the verdict."""

    def __init__(
        self,
        params: ClaimParams,
        role: ClaimRole,
        value: int | None = None,
        *,
        signing_key: SigningKey,
        verify_keys: Mapping[str, VerifyKey],
    ) -> None:
        self.params = params
        self.role = role
        self.party_id = {
            ClaimRole.CLAIMANT: params.claimant, ClaimRole.HOLDER: params.holder,
            ClaimRole.COORDINATOR: params.coordinator,
        }[role]  # fmt: skip
        if role is ClaimRole.COORDINATOR:
            if value is not None:
                raise ValueError("the coordinator has no input")
        else:
            if value is None:
                raise ValueError(f"the {role.value} needs a value")
            params.check_value(value)
        self._value = value
        self._other = params.holder if role is ClaimRole.CLAIMANT else params.claimant
        peers = [params.claimant, params.holder] if role is ClaimRole.COORDINATOR else [self._other, params.coordinator]
        missing = [p for p in peers if p not in verify_keys]
        if missing:
            raise ValueError(f"verify keys missing for {missing}")
        self._outboxes = {  # sequence numbers run per (sender, recipient)
            p: Outbox(job_id=params.job_id, protocol=params.protocol, party=self.party_id, key=signing_key)
            for p in peers
        }
        self._mailbox = Mailbox(
            job_id=params.job_id, protocol=params.protocol, party=self.party_id,
            peers={p: verify_keys[p] for p in peers}, max_message_bytes=params.max_message_bytes(),
        )  # fmt: skip
        self._secret, self._public = x25519_keypair()  # fresh per run
        self._tags: dict[str, list[bytes]] = {}
        self.state = "new"
        self.result: bool | None = None

    @property
    def done(self) -> bool:
        return self.state == "done"

    def _send(self, recipient: str, kind: str, body: bytes) -> Outgoing:
        return recipient, self._outboxes[recipient].seal(recipient, kind, body)

    def start(self) -> list[Outgoing]:
        if self.state != "new":
            raise ProtocolAbort(f"party is {self.state}, expected new")
        if self.role is ClaimRole.COORDINATOR:
            self.state = "wait_tags"
            return []
        self.state = "wait_key"
        return [self._send(self._other, "key", self._public)]

    def on_message(self, data: bytes) -> list[Outgoing]:
        if self.state in ("aborted", "done"):
            raise ProtocolAbort(f"job is {self.state}; no further messages are accepted")
        try:
            envelope = self._mailbox.accept(data)
            kind, body, sender = envelope.kind, envelope.body, envelope.sender
            if len(body) != self.params.body_sizes().get(kind, -1):
                raise ProtocolAbort(f"{kind!r} body has the wrong size for the declared parameters")
            expected = {
                (ClaimRole.CLAIMANT, "wait_key", self.params.holder): "key",
                (ClaimRole.HOLDER, "wait_key", self.params.claimant): "key",
                (ClaimRole.CLAIMANT, "wait_verdict", self.params.coordinator): "verdict",
                (ClaimRole.HOLDER, "wait_verdict", self.params.coordinator): "verdict",
                (ClaimRole.COORDINATOR, "wait_tags", self.params.claimant): "cover",
                (ClaimRole.COORDINATOR, "wait_tags", self.params.holder): "prefixes",
            }.get((self.role, self.state, sender))
            if kind != expected or kind in self._tags:
                raise ProtocolAbort(f"unexpected message kind {kind!r} from {sender!r} in state {self.state}")
            if kind == "key":
                return self._on_key(body)
            if kind == "verdict":
                if body not in (b"\x00", b"\x01"):
                    raise ProtocolAbort("malformed verdict")
                self.result = body == b"\x01"
                self.state = "done"
                return []
            return self._on_tags(kind, body)
        except ProtocolAbort:
            self.state = "aborted"
            raise

    def _on_key(self, peer_public: bytes) -> list[Outgoing]:
        params = self.params
        assert self._value is not None
        claimant = self.role is ClaimRole.CLAIMANT
        first, second = (self._public, peer_public) if claimant else (peer_public, self._public)
        key = shared_seed(self._secret, peer_public, params.protocol.encode("utf-8"), first, second)
        self._secret = b""
        if claimant:
            blocks = dyadic_cover(*params.interval(self._value), params.bits)
            if len(blocks) > params.cover_tags:  # cannot happen: a minimal cover has at most 2·bits blocks
                raise ProtocolAbort("interval cover exceeds its declared size")
            tags = [_tag(key, b) for b in blocks]
            tags += [secrets.token_bytes(TAG_BYTES) for _ in range(params.cover_tags - len(tags))]
            kind = "cover"
        else:
            tags = [_tag(key, b) for b in prefixes(self._value, params.bits)]
            kind = "prefixes"
        secrets.SystemRandom().shuffle(tags)
        self._value = None
        self.state = "wait_verdict"
        return [self._send(params.coordinator, kind, b"".join(tags))]

    def _on_tags(self, kind: str, body: bytes) -> list[Outgoing]:
        tags = _split(body)
        if len(set(tags)) != len(tags):
            raise ProtocolAbort(f"duplicate tags in {kind!r}")
        self._tags[kind] = tags
        if len(self._tags) < 2:
            return []
        shared = len(set(self._tags["cover"]).intersection(self._tags["prefixes"]))
        if shared > 1:  # blocks of a cover are disjoint: an honest run shares at most one tag
            raise ProtocolAbort("more than one shared tag: inconsistent inputs")
        self.result = shared == 1
        self._tags = {}
        self.state = "done"
        verdict = b"\x01" if self.result else b"\x00"
        return [self._send(p, "verdict", verdict) for p in (self.params.claimant, self.params.holder)]
