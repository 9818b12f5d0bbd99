"""A party's node: identity, peers directory, HTTP inbox, HTTP transport, relay and job runner.

Design:

- **Identity.** A node is one party: a name and an Ed25519 signing key kept in ``<data dir>/<name>.key`` (hex seed,
  mode 0600), created on first use. Its public key (``public_key_b64``) goes into the directory of every party.
- **Directory.** A JSON file shared by the participating institutions: for each party its base URL (or ``"relay"``
  if it is reachable only through the relay) and its Ed25519 public key, plus an optional default relay URL.
- **Inbox.** ``POST /privacy/v1/messages`` takes one sealed envelope (``messages.seal``), size-limited, and answers
  202. The node parses it only to route it by job id and sender; authentication, order and size checks against the
  protocol's parameters are the protocol ``Mailbox``'s job. Byte-identical duplicates (HTTP retries) are dropped.
- **Transport.** ``HttpTransport`` implements ``transport.Transport`` for one job: ``send`` POSTs to the peer's
  inbox (or to the relay) with timeouts, retries and exponential backoff; ``receive`` takes the next message from
  the local inbox, waiting up to a timeout and raising ``ProtocolAbort`` when it passes.
- **Relay.** ``create_relay_app``: ``POST /privacy/v1/relay/{recipient}`` stores an envelope, ``GET
  /privacy/v1/relay/{me}?after=N&wait=S`` long-polls for the envelopes after index ``N`` (and forgets those up to
  ``N``). Both need a signed request header (``X-Tierflow-Auth``: party, timestamp, Ed25519 signature over method,
  path with query, timestamp and the body's SHA-256), so a party behind a firewall only makes outbound
  connections: it sends through the relay and a background thread of its node polls the relay into its inbox.
- **Jobs.** ``POST /privacy/v1/jobs`` (signed by the node's own key: only the local operator) creates a job
  descriptor (job id, protocol, params, participants), sends a signed ``invite`` control envelope to each other
  participant and runs the initiator's role. A node started with an input file for that protocol joins and runs
  its role. ``run_job`` drives any state machine with ``start()``/``on_message()``/``done``/``result`` over the
  transport; on ``ProtocolAbort`` it tells the other participants with a signed ``abort`` control envelope.
  Protocols are looked up in a registry (``register_protocol``); PSI variants and shared suppliers are built in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from fastapi import FastAPI, HTTPException, Request, Response
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from tierflow.privacy import shared_suppliers
from tierflow.privacy.messages import MAX_MESSAGE_BYTES, Envelope, ProtocolAbort, parse, seal
from tierflow.privacy.psi import Item, PsiParams, PsiParty, PsiResult, Role, Variant

log = logging.getLogger(__name__)

API = "/privacy/v1"
CONTROL_PROTOCOL = "tierflow-job-v1"
AUTH_HEADER = "X-Tierflow-Auth"
VIA_RELAY = "relay"
CLOCK_SKEW_S = 300
INVITE_MAX_AGE_S = 600
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
DEFAULT_JOB_TIMEOUT_S = 120.0
MAX_BUFFERED_JOBS = 256


# --------------------------------------------------------------------------------------------------- identity


def load_or_create_key(data_dir: Path, party: str) -> SigningKey:
    """The party's signing key from ``<data_dir>/<party>.key``, created (mode 0600) if missing."""
    if not party or "/" in party or party.startswith("."):
        raise ValueError(f"invalid party name {party!r}")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / f"{party}.key"
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise PermissionError(f"{path} must not be readable by group or others (chmod 600)")
        return SigningKey(bytes.fromhex(path.read_text(encoding="ascii").strip()))
    key = SigningKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(bytes(key).hex() + "\n")
    return key


def public_key_b64(key: SigningKey | VerifyKey) -> str:
    verify = key.verify_key if isinstance(key, SigningKey) else key
    return base64.b64encode(bytes(verify)).decode("ascii")


# -------------------------------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class Peer:
    name: str
    url: str | None  # None: reachable only through the relay
    verify_key: VerifyKey


@dataclass(frozen=True)
class Directory:
    """Every party's address and public key: ``{"relay": URL?, "parties": {name: {"url", "public_key"}}}``."""

    parties: Mapping[str, Peer]
    relay: str | None = None

    @classmethod
    def from_json(cls, raw: Any) -> Directory:
        if not isinstance(raw, dict) or not isinstance(raw.get("parties"), dict):
            raise ValueError("directory: expected an object with 'parties'")
        relay = raw.get("relay")
        if relay is not None and not isinstance(relay, str):
            raise ValueError("directory: 'relay' must be a URL")
        parties: dict[str, Peer] = {}
        for name, entry in raw["parties"].items():
            if not isinstance(entry, dict) or not isinstance(entry.get("public_key"), str):
                raise ValueError(f"directory: party {name!r} needs a 'public_key'")
            url = entry.get("url", VIA_RELAY)
            if not isinstance(url, str):
                raise ValueError(f"directory: party {name!r} has an invalid 'url'")
            try:
                key = VerifyKey(base64.b64decode(entry["public_key"], validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"directory: party {name!r} has an invalid public key") from exc
            parties[name] = Peer(name, None if url == VIA_RELAY else url.rstrip("/"), key)
        return cls(parties, relay.rstrip("/") if relay else None)

    @classmethod
    def load(cls, path: Path) -> Directory:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    def peer(self, name: str) -> Peer:
        try:
            return self.parties[name]
        except KeyError:
            raise ProtocolAbort(f"unknown party {name!r}") from None


# ---------------------------------------------------------------------------------------- request signatures


class AuthError(Exception):
    pass


def _request_bytes(method: str, target: str, timestamp: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"tierflow-privacy-request-v1\n{method.upper()}\n{target}\n{timestamp}\n{digest}".encode()


def sign_request(key: SigningKey, party: str, method: str, target: str, body: bytes = b"") -> str:
    """The ``X-Tierflow-Auth`` header value for a request to ``target`` (path and query)."""
    timestamp = int(time.time())
    signature = key.sign(_request_bytes(method, target, timestamp, body)).signature
    return f"party={party},ts={timestamp},sig={base64.b64encode(signature).decode('ascii')}"


def verify_request(directory: Directory, header: str | None, method: str, target: str, body: bytes) -> str:
    """The signing party's name, or ``AuthError``."""
    if not header:
        raise AuthError("missing signed request header")
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        party, timestamp = fields["party"], int(fields["ts"])
        signature = base64.b64decode(fields["sig"], validate=True)
    except (KeyError, ValueError, binascii.Error) as exc:
        raise AuthError("malformed signed request header") from exc
    if abs(time.time() - timestamp) > CLOCK_SKEW_S:
        raise AuthError("request timestamp outside the allowed clock skew")
    peer = directory.parties.get(party)
    if peer is None:
        raise AuthError("unknown party")
    try:
        peer.verify_key.verify(_request_bytes(method, target, timestamp, body), signature)
    except (BadSignatureError, ValueError) as exc:
        raise AuthError("bad request signature") from exc
    return party


def _target(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, "message too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, "message too large")
        chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------------------------------------------ inbox


class Inbox:
    """Per-job FIFO of ``(sender, message)``, thread-safe; waiting takes a timeout."""

    def __init__(self, max_jobs: int = MAX_BUFFERED_JOBS) -> None:
        self._cond = threading.Condition()
        self._queues: dict[str, deque[tuple[str, bytes]]] = {}
        self._seen: dict[str, set[bytes]] = {}
        self._aborted: dict[str, str] = {}
        self._closed: set[str] = set()
        self._max_jobs = max_jobs

    def put(self, job_id: str, sender: str, data: bytes) -> bool:
        """Queue a message; ``False`` for a byte-identical duplicate. Raises ``LookupError`` for a finished job."""
        digest = hashlib.sha256(data).digest()
        with self._cond:
            if job_id in self._closed:
                raise LookupError("job is finished")
            if job_id not in self._queues and len(self._queues) >= self._max_jobs:
                raise OverflowError("too many open jobs")
            seen = self._seen.setdefault(job_id, set())
            if digest in seen:
                return False
            seen.add(digest)
            self._queues.setdefault(job_id, deque()).append((sender, data))
            self._cond.notify_all()
            return True

    def abort(self, job_id: str, reason: str) -> None:
        with self._cond:
            self._aborted.setdefault(job_id, reason)
            self._cond.notify_all()

    def get(self, job_id: str, timeout: float, sender: str | None = None) -> tuple[str, bytes]:
        """The next message of a job (from ``sender`` if given); ``ProtocolAbort`` on timeout or a peer's abort."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                queue = self._queues.setdefault(job_id, deque())
                for index, (who, data) in enumerate(queue):
                    if sender is None or who == sender:
                        del queue[index]
                        return who, data
                if job_id in self._aborted:
                    raise ProtocolAbort(f"aborted by a peer: {self._aborted[job_id]}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ProtocolAbort(f"timed out after {timeout:.0f} s waiting for a message")
                self._cond.wait(remaining)

    def close(self, job_id: str) -> None:
        with self._cond:
            self._queues.pop(job_id, None)
            self._seen.pop(job_id, None)
            self._aborted.pop(job_id, None)
            self._closed.add(job_id)


# -------------------------------------------------------------------------------------------- state machines


class ProtocolParty(Protocol):
    """The shape every protocol role has. Outgoing items are sealed bytes (the recipient is read from the
    envelope) or ``(recipient, bytes)`` pairs."""

    @property
    def done(self) -> bool: ...

    def start(self) -> Sequence[bytes | tuple[str, bytes]]: ...

    def on_message(self, data: bytes) -> Sequence[bytes | tuple[str, bytes]]: ...


@dataclass(frozen=True)
class JobDescriptor:
    job_id: str
    protocol: str
    initiator: str
    participants: tuple[str, ...]
    params: Mapping[str, Any]
    created: int

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "protocol": self.protocol, "initiator": self.initiator,
            "participants": list(self.participants), "params": dict(self.params), "created": self.created,
        }  # fmt: skip

    @classmethod
    def from_json(cls, raw: Any) -> JobDescriptor:
        try:
            descriptor = cls(
                str(raw["job_id"]), str(raw["protocol"]), str(raw["initiator"]),
                tuple(str(p) for p in raw["participants"]), dict(raw["params"]), int(raw["created"]),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("malformed job descriptor") from exc
        if descriptor.initiator not in descriptor.participants or len(set(descriptor.participants)) < 2:
            raise ValueError("a job needs the initiator and at least one other distinct participant")
        return descriptor


PartyFactory = Callable[["Node", JobDescriptor, Path], ProtocolParty]
ResultRenderer = Callable[[ProtocolParty, Path], Any]


@dataclass(frozen=True)
class ProtocolSpec:
    """How a node builds its role of a protocol from a job descriptor and its input file, and renders the result."""

    name: str
    build: PartyFactory
    render: ResultRenderer
    participants: int = 2
    more_allowed: bool = False  # ``participants`` is then the least number a job needs

    def accepts(self, count: int) -> bool:
        return count >= self.participants if self.more_allowed else count == self.participants

    def describe_count(self) -> str:
        return f"at least {self.participants}" if self.more_allowed else str(self.participants)


PROTOCOLS: dict[str, ProtocolSpec] = {}


def register_protocol(spec: ProtocolSpec) -> None:
    PROTOCOLS[spec.name] = spec


def run_job(
    node: Node, job_id: str, party: ProtocolParty, peers: Sequence[str], *, timeout: float = DEFAULT_JOB_TIMEOUT_S
) -> None:
    """Drive ``party`` to completion over HTTP; raises ``ProtocolAbort`` (after telling ``peers``) on failure."""
    transport = HttpTransport(node, job_id)
    deadline = time.monotonic() + timeout

    def emit(outgoing: Sequence[bytes | tuple[str, bytes]]) -> None:
        for item in outgoing:
            recipient, data = item if isinstance(item, tuple) else (parse(item).recipient, item)
            if recipient not in peers:
                raise ProtocolAbort(f"protocol addressed a non-participant {recipient!r}")
            transport.send(recipient, data)

    try:
        emit(party.start())
        while not party.done:
            sender, data = transport.next_message(max(0.0, deadline - time.monotonic()))
            if sender not in peers:
                raise ProtocolAbort(f"message from a non-participant {sender!r}")
            emit(party.on_message(data))
    except ProtocolAbort as exc:
        for peer in peers:
            node.send_control(peer, job_id, "abort", str(exc).encode("utf-8"), best_effort=True)
        raise
    finally:
        node.inbox.close(job_id)


# -------------------------------------------------------------------------------------------------- transport


class HttpTransport:
    """``transport.Transport`` for one job of one node."""

    def __init__(self, node: Node, job_id: str) -> None:
        self.node = node
        self.job_id = job_id

    def send(self, recipient: str, message: bytes) -> None:
        self.node.deliver(recipient, message)

    def receive(self, sender: str, timeout: float = 0.0) -> bytes | None:
        """The next message from ``sender``; ``None`` if none arrives within ``timeout`` (default: don't wait)."""
        try:
            return self.node.inbox.get(self.job_id, timeout, sender)[1]
        except ProtocolAbort:
            if timeout > 0:
                raise
            return None

    def next_message(self, timeout: float) -> tuple[str, bytes]:
        """The next message from any sender; ``ProtocolAbort`` on timeout or a peer's abort."""
        return self.node.inbox.get(self.job_id, timeout)


# ------------------------------------------------------------------------------------------------------- node


@dataclass
class JobRecord:
    descriptor: JobDescriptor
    status: str = "running"  # running | done | aborted
    result: Any = None
    error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {**self.descriptor.to_json(), "status": self.status, "result": self.result, "error": self.error}


class Node:
    """One party's node. ``app()`` is its HTTP interface; ``start_relay_polling()`` its outbound-only receiver."""

    def __init__(
        self,
        name: str,
        key: SigningKey,
        directory: Directory,
        *,
        relay: str | None = None,
        inputs: Mapping[str, Path] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        http_timeout: float = 10.0,
        retries: int = 4,
        job_timeout: float = DEFAULT_JOB_TIMEOUT_S,
    ) -> None:
        if name not in directory.parties:
            raise ValueError(f"party {name!r} is not in the directory")
        if directory.parties[name].verify_key != key.verify_key:
            raise ValueError(f"the key file does not match the public key of {name!r} in the directory")
        self.name = name
        self.key = key
        self.directory = directory
        self.relay = (relay or directory.relay or "").rstrip("/") or None
        self.inputs = dict(inputs or {})
        self.max_message_bytes = min(max_message_bytes, MAX_MESSAGE_BYTES)
        self.retries = retries
        self.job_timeout = job_timeout
        self.inbox = Inbox()
        self.jobs: dict[str, JobRecord] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=http_timeout)
        self._stop = threading.Event()

    # --- sending ---

    def _post(self, url: str, target: str, data: bytes, *, signed: bool, attempts: int) -> None:
        headers = {"content-type": "application/octet-stream"}
        if signed:
            headers[AUTH_HEADER] = sign_request(self.key, self.name, "POST", target, data)
        delay = 0.2
        last = "no attempt"
        for attempt in range(attempts):
            try:
                response = self._client.post(url + target, content=data, headers=headers)
                if response.status_code < 300:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # a refusal, not a transient failure
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < attempts:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise ProtocolAbort(f"could not deliver to {url}: {last}")

    def deliver(self, recipient: str, data: bytes, *, attempts: int | None = None) -> None:
        """POST a sealed envelope to ``recipient``'s inbox, or to the relay if it has no URL."""
        peer = self.directory.peer(recipient)
        tries = self.retries + 1 if attempts is None else attempts
        if peer.url is not None:
            self._post(peer.url, f"{API}/messages", data, signed=False, attempts=tries)
        elif self.relay is not None:
            self._post(self.relay, f"{API}/relay/{recipient}", data, signed=True, attempts=tries)
        else:
            raise ProtocolAbort(f"{recipient!r} is reachable only through a relay, and none is configured")

    def send_control(self, recipient: str, job_id: str, kind: str, body: bytes, *, best_effort: bool = False) -> None:
        envelope = seal(
            self.key, job_id=job_id, protocol=CONTROL_PROTOCOL, sender=self.name, recipient=recipient, seq=0,
            kind=kind, body=body,
        )  # fmt: skip
        try:
            self.deliver(recipient, envelope.to_wire(), attempts=1 if best_effort else None)
        except ProtocolAbort:
            if not best_effort:
                raise
            log.warning("could not tell %s about job %s (%s)", recipient, job_id, kind)

    # --- receiving ---

    def route(self, data: bytes) -> None:
        """Route one envelope from the inbox or the relay; ``PermissionError``/``LookupError``/``ProtocolAbort``."""
        envelope = parse(data, self.max_message_bytes)
        if envelope.recipient != self.name:
            raise LookupError("message is addressed to another party")
        if envelope.sender not in self.directory.parties or envelope.sender == self.name:
            raise PermissionError("message from an unknown sender")
        if envelope.protocol == CONTROL_PROTOCOL:
            self._on_control(envelope)
            return
        self.inbox.put(envelope.job_id, envelope.sender, data)

    def _on_control(self, envelope: Envelope) -> None:
        key = self.directory.parties[envelope.sender].verify_key
        try:
            key.verify(envelope.signing_bytes(), envelope.signature)
        except (BadSignatureError, ValueError) as exc:
            raise ProtocolAbort("bad signature on a control message") from exc
        if envelope.kind == "abort":
            with self._lock:
                record = self.jobs.get(envelope.job_id)
            if record is not None and envelope.sender in record.descriptor.participants:
                self.inbox.abort(envelope.job_id, f"{envelope.sender}: {envelope.body.decode('utf-8', 'replace')}")
        elif envelope.kind == "invite":
            self._on_invite(envelope)
        else:
            raise ProtocolAbort(f"unknown control message {envelope.kind!r}")

    def _on_invite(self, envelope: Envelope) -> None:
        try:
            descriptor = JobDescriptor.from_json(json.loads(envelope.body))
        except ValueError as exc:
            raise ProtocolAbort(str(exc)) from exc
        if descriptor.job_id != envelope.job_id or descriptor.initiator != envelope.sender:
            raise ProtocolAbort("invitation does not match its envelope")
        if self.name not in descriptor.participants:
            raise ProtocolAbort("invited to a job without being a participant")
        if abs(time.time() - descriptor.created) > INVITE_MAX_AGE_S:
            raise ProtocolAbort("stale invitation")
        path = self.inputs.get(descriptor.protocol)
        joining = path is not None and descriptor.protocol in PROTOCOLS
        record = JobRecord(descriptor)
        if not joining:
            record.status, record.error = "aborted", "declined"
        with self._lock:
            if descriptor.job_id in self.jobs:
                return  # a repeated invitation
            self.jobs[descriptor.job_id] = record
        if path is None or not joining:
            log.info("declining job %s: no input configured for %s", descriptor.job_id, descriptor.protocol)
            reason = b"declined: not joining this protocol"
            args = (envelope.sender, descriptor.job_id, "abort", reason)
            threading.Thread(target=self.send_control, args=args, kwargs={"best_effort": True}, daemon=True).start()
            return
        self._launch(record, path)

    # --- jobs ---

    def start_job(
        self, protocol: str, participants: Sequence[str], params: Mapping[str, Any], input_path: Path
    ) -> JobRecord:
        """Create a job with this node as initiator, invite the others and run it in the background."""
        spec = PROTOCOLS.get(protocol)
        if spec is None:
            raise ValueError(f"unknown protocol {protocol!r}")
        others = [p for p in dict.fromkeys(participants) if p != self.name]
        if not spec.accepts(len(others) + 1):
            raise ValueError(f"{protocol} needs {spec.describe_count()} participants")
        for other in others:
            self.directory.peer(other)
        descriptor = JobDescriptor(
            uuid.uuid4().hex, protocol, self.name, (self.name, *others), dict(params), int(time.time())
        )
        record = JobRecord(descriptor)
        with self._lock:
            self.jobs[descriptor.job_id] = record  # registered first: a peer's abort may come during invitations
        body = json.dumps(descriptor.to_json(), sort_keys=True).encode("utf-8")
        try:
            for other in others:
                self.send_control(other, descriptor.job_id, "invite", body)
        except ProtocolAbort as exc:
            record.error, record.status = str(exc), "aborted"
            raise
        return self._launch(record, input_path)

    def _launch(self, record: JobRecord, input_path: Path) -> JobRecord:
        thread = threading.Thread(target=self._run, args=(record, input_path), daemon=True)
        record.thread = thread
        thread.start()
        return record

    def _run(self, record: JobRecord, input_path: Path) -> None:
        descriptor = record.descriptor
        spec = PROTOCOLS[descriptor.protocol]
        peers = [p for p in descriptor.participants if p != self.name]
        try:
            try:
                party = spec.build(self, descriptor, input_path)
            except (OSError, ValueError, KeyError) as exc:
                reason = f"cannot set up the job: {exc}"
                for peer in peers:
                    self.send_control(peer, descriptor.job_id, "abort", reason.encode("utf-8"), best_effort=True)
                raise ProtocolAbort(reason) from exc
            run_job(self, descriptor.job_id, party, peers, timeout=self.job_timeout)
            record.result = spec.render(party, input_path)
            record.status = "done"
        except ProtocolAbort as exc:
            record.error, record.status = str(exc), "aborted"
            self.inbox.close(descriptor.job_id)
            log.warning("job %s aborted: %s", descriptor.job_id, exc)
        except Exception as exc:  # a bug in a protocol must not kill the node silently
            record.error, record.status = f"internal error: {exc!r}", "aborted"
            log.exception("job %s failed", descriptor.job_id)

    # --- relay polling (outbound connections only) ---

    def start_relay_polling(self, wait: float = 10.0) -> threading.Thread:
        if self.relay is None:
            raise ValueError("no relay configured")
        thread = threading.Thread(target=self._poll_relay, args=(wait,), daemon=True)
        thread.start()
        return thread

    def _poll_relay(self, wait: float) -> None:
        after = -1
        backoff = 0.2
        while not self._stop.is_set():
            target = f"{API}/relay/{self.name}?after={after}&wait={wait:g}"
            headers = {AUTH_HEADER: sign_request(self.key, self.name, "GET", target)}
            try:
                response = self._client.get(f"{self.relay}{target}", headers=headers, timeout=wait + 10)
                response.raise_for_status()
                backoff = 0.2
            except httpx.HTTPError as exc:
                log.warning("relay poll failed: %s", exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            for item in response.json()["messages"]:
                after = max(after, int(item["index"]))
                try:
                    self.route(base64.b64decode(item["data"]))
                except (ProtocolAbort, LookupError, PermissionError, OverflowError) as exc:
                    log.warning("dropped a relayed message: %s", exc)

    def stop(self) -> None:
        self._stop.set()

    # --- HTTP interface ---

    def app(self) -> FastAPI:
        node = self
        app = FastAPI(title=f"tierflow privacy node {self.name}", docs_url=None, redoc_url=None, openapi_url=None)

        def require_self(request: Request, body: bytes) -> None:
            try:
                signer = verify_request(node.directory, request.headers.get(AUTH_HEADER), request.method,
                                        _target(request), body)  # fmt: skip
            except AuthError as exc:
                raise HTTPException(401, str(exc)) from exc
            if signer != node.name:
                raise HTTPException(403, "only this node's own key may manage its jobs")

        @app.get(f"{API}/health")
        async def health() -> dict[str, str]:
            return {"party": node.name, "public_key": public_key_b64(node.key)}

        @app.post(f"{API}/messages", status_code=202)
        async def messages(request: Request) -> Response:
            data = await _read_limited(request, node.max_message_bytes)
            try:
                node.route(data)
            except ProtocolAbort as exc:
                raise HTTPException(400, str(exc)) from exc
            except PermissionError as exc:
                raise HTTPException(403, str(exc)) from exc
            except LookupError as exc:
                raise HTTPException(409, str(exc)) from exc
            except OverflowError as exc:
                raise HTTPException(429, str(exc)) from exc
            return Response(status_code=202)

        @app.post(f"{API}/jobs", status_code=201)
        async def create_job(request: Request) -> dict[str, Any]:
            body = await _read_limited(request, 64 * 1024)
            require_self(request, body)
            try:
                raw = json.loads(body)
                record = node.start_job(
                    str(raw["protocol"]), [str(p) for p in raw["participants"]], dict(raw.get("params", {})),
                    Path(str(raw["input"])),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError) as exc:
                raise HTTPException(422, str(exc)) from exc
            except ProtocolAbort as exc:
                raise HTTPException(502, str(exc)) from exc
            return record.to_json()

        @app.get(f"{API}/jobs/{{job_id}}")
        async def get_job(job_id: str, request: Request) -> dict[str, Any]:
            require_self(request, b"")
            with node._lock:
                record = node.jobs.get(job_id)
            if record is None:
                raise HTTPException(404, "no such job")
            return record.to_json()

        return app


# ------------------------------------------------------------------------------------------------------ relay


class RelayStore:
    """Envelopes waiting for each recipient, numbered per recipient."""

    def __init__(self, max_per_recipient: int = 1024) -> None:
        self._cond = threading.Condition()
        self._boxes: dict[str, deque[tuple[int, bytes]]] = {}
        self._next: dict[str, int] = {}
        self._max = max_per_recipient

    def put(self, recipient: str, data: bytes) -> int:
        with self._cond:
            box = self._boxes.setdefault(recipient, deque())
            if len(box) >= self._max:
                raise OverflowError("recipient's relay box is full")
            index = self._next.get(recipient, 0)
            self._next[recipient] = index + 1
            box.append((index, data))
            self._cond.notify_all()
            return index

    def take(self, recipient: str, after: int) -> list[tuple[int, bytes]]:
        """Forget what is acknowledged (``<= after``) and return the rest."""
        with self._cond:
            box = self._boxes.setdefault(recipient, deque())
            while box and box[0][0] <= after:
                box.popleft()
            return list(box)


def create_relay_app(directory: Directory, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> FastAPI:
    """A store-and-forward relay: parties push envelopes for others and long-poll for their own."""
    import asyncio

    store = RelayStore()
    app = FastAPI(title="tierflow privacy relay", docs_url=None, redoc_url=None, openapi_url=None)

    def authenticate(request: Request, body: bytes) -> str:
        try:
            return verify_request(directory, request.headers.get(AUTH_HEADER), request.method, _target(request), body)
        except AuthError as exc:
            raise HTTPException(401, str(exc)) from exc

    @app.get(f"{API}/health")
    async def health() -> dict[str, str]:
        return {"relay": "ok"}

    @app.post(f"{API}/relay/{{recipient}}", status_code=202)
    async def push(recipient: str, request: Request) -> dict[str, int]:
        data = await _read_limited(request, max_message_bytes)
        sender = authenticate(request, data)
        try:
            envelope = parse(data, max_message_bytes)
        except ProtocolAbort as exc:
            raise HTTPException(400, str(exc)) from exc
        if envelope.sender != sender or envelope.recipient != recipient or recipient not in directory.parties:
            raise HTTPException(403, "envelope sender or recipient does not match the request")
        try:
            return {"index": store.put(recipient, data)}
        except OverflowError as exc:
            raise HTTPException(429, str(exc)) from exc

    @app.get(f"{API}/relay/{{me}}")
    async def pull(me: str, request: Request, after: int = -1, wait: float = 0.0) -> dict[str, Any]:
        if authenticate(request, b"") != me:
            raise HTTPException(403, "a party may only read its own relay box")
        deadline = time.monotonic() + min(max(wait, 0.0), 25.0)
        while True:
            items = store.take(me, after)
            if items or time.monotonic() >= deadline or await request.is_disconnected():
                break
            await asyncio.sleep(0.05)
        return {"messages": [{"index": i, "data": base64.b64encode(d).decode("ascii")} for i, d in items]}

    return app


# ---------------------------------------------------------------------------------------- built-in protocols

PSI_PROTOCOLS = {f"psi-{variant.value}": variant for variant in Variant}


def _read_items(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _read_payloads(path: Path) -> dict[Item, bytes]:
    payloads: dict[Item, bytes] = {}
    for line in _read_items(path):
        item, sep, payload = line.partition(",")
        if not sep:
            raise ValueError("psi-payload responder input needs 'item,payload' lines")
        payloads[item.strip()] = payload.strip().encode("utf-8")
    return payloads


def _int_param(descriptor: JobDescriptor, name: str, default: int) -> int:
    value = descriptor.params.get(name, default)
    if type(value) is not int or value < 0:
        raise ValueError(f"parameter {name!r} must be a non-negative integer")
    return value


def _psi_setup(node: Node, descriptor: JobDescriptor, variant: Variant) -> tuple[PsiParams, Role, VerifyKey]:
    responder = next(p for p in descriptor.participants if p != descriptor.initiator)
    max_items = _int_param(descriptor, "max_items", 1000)
    psi_params = PsiParams(
        descriptor.job_id, variant, descriptor.initiator, responder,
        _int_param(descriptor, "max_items_initiator", max_items),
        _int_param(descriptor, "max_items_responder", max_items),
        _int_param(descriptor, "max_payload_bytes", 64 if variant is Variant.PAYLOAD else 0),
    )  # fmt: skip
    role = Role.INITIATOR if node.name == descriptor.initiator else Role.RESPONDER
    peer = responder if role is Role.INITIATOR else descriptor.initiator
    return psi_params, role, node.directory.peer(peer).verify_key


def _build_psi(node: Node, descriptor: JobDescriptor, path: Path) -> ProtocolParty:
    variant = PSI_PROTOCOLS[descriptor.protocol]
    psi_params, role, peer_key = _psi_setup(node, descriptor, variant)
    if variant is Variant.PAYLOAD and role is Role.RESPONDER:
        return PsiParty(psi_params, role, [], signing_key=node.key, peer_key=peer_key, payloads=_read_payloads(path))
    return PsiParty(psi_params, role, _read_items(path), signing_key=node.key, peer_key=peer_key)


def psi_result_json(result: PsiResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    out: dict[str, Any] = {"cardinality": result.cardinality}
    if result.intersection is not None:
        out["intersection"] = sorted(i.decode("utf-8", "replace") for i in result.intersection)
    if result.payloads is not None:
        out["payloads"] = {
            k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in sorted(result.payloads.items())
        }
    return out


def _render_psi(party: ProtocolParty, path: Path) -> Any:
    del path
    return psi_result_json(party.result if isinstance(party, PsiParty) else None)


def _build_shared_suppliers(node: Node, descriptor: JobDescriptor, path: Path) -> ProtocolParty:
    psi_params, role, peer_key = _psi_setup(node, descriptor, Variant.PAYLOAD)
    psi_params = shared_suppliers.params(
        psi_params.job_id, psi_params.initiator, psi_params.responder,
        max_bank=psi_params.max_items_initiator, max_core=psi_params.max_items_responder,
    )  # fmt: skip
    exposures = shared_suppliers.load_exposures(path)
    build = shared_suppliers.bank_party if role is Role.INITIATOR else shared_suppliers.core_party
    return build(psi_params, exposures, signing_key=node.key, peer_key=peer_key)


def _render_shared_suppliers(party: ProtocolParty, path: Path) -> Any:
    if not isinstance(party, PsiParty) or party.result is None:
        return None  # the core enterprise learns nothing
    return shared_suppliers.combine(shared_suppliers.load_exposures(path), party.result).to_json()


for _name in PSI_PROTOCOLS:
    register_protocol(ProtocolSpec(_name, _build_psi, _render_psi))
register_protocol(ProtocolSpec(shared_suppliers.PROTOCOL, _build_shared_suppliers, _render_shared_suppliers))
