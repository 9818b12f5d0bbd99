"""The in-browser receipt check (``static/verify.js``) in Debian's Chromium, against the Python reference.

``verify.js`` and a harness page are served by a local ``http.server`` on 127.0.0.1 (a secure context, so
WebCrypto exists). Receipts are real: journal entries built and signed with the ledger modules, a Merkle tree
of up to 1000 leaves, checkpoints signed as C2SP notes and cosigned with tlog-cosignature/v1, plus one
receipt from a whole platform (SQLite) checked through the portal's own form template. Every accepted and
every rejected input is also given to ``tierflow.ledger.verify.verify_receipt``, which must agree; where the
two messages can be identical they must be. The RFC 9162 inclusion vectors run through ``verifyInclusion``.

Skipped, with the reason shown, where Chromium (``/usr/bin/chromium`` or ``TIERFLOW_CHROMIUM``) or Playwright
is missing; with ``TIERFLOW_REQUIRE_BROWSER=1`` (CI) that is a failure instead.
"""

from __future__ import annotations

import functools
import json
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from tests.portal.conftest import CHROMIUM, REQUIRE_BROWSER, browser_unavailable

_REASON = browser_unavailable()
if _REASON:
    if REQUIRE_BROWSER:
        pytest.fail(_REASON, pytrace=False)
    pytest.skip(f"in-browser verify.js tests skipped: {_REASON}", allow_module_level=True)

from tierflow.ledger.canonical import b64d, b64e, canonical_json  # noqa: E402
from tierflow.ledger.checkpoint import Checkpoint, sign_checkpoint  # noqa: E402
from tierflow.ledger.cosignature import COSIGNATURE_TYPE, cosign, cosigner_verifier_key  # noqa: E402
from tierflow.ledger.envelope import build_leaf, sign_command  # noqa: E402
from tierflow.ledger.merkle import MemoryNodeStore, inclusion_proof, leaf_hash, nodes_to_append, root  # noqa: E402
from tierflow.ledger.note import (  # noqa: E402
    NoteSigner,
    add_signatures,
    format_signature_line,
    key_id,
    sign_note,
    verifier_key,
)
from tierflow.ledger.verify import verify_receipt  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
VERIFY_JS = ROOT / "src" / "tierflow" / "portal" / "static" / "verify.js"
HARNESS = Path(__file__).with_name("verify_harness.html")
TEMPLATES = ROOT / "src" / "tierflow" / "portal" / "templates"
VECTORS = ROOT.parent / "shared" / "testdata" / "rfc9162" / "inclusion"
INSECURE_HOST = "verify-insecure.test"  # mapped to 127.0.0.1 but, being plain http, not a secure context

ORIGIN = "tierflow.test/journal"
AT = "2026-01-05T09:00:00Z"
W1, W2 = "witness.test/w1", "witness.test/w2"
TS = 1_767_603_600
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# --------------------------------------------------------------------------- a local web server


class _Site(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages: dict[str, tuple[Callable[[], bytes], str]] = {
            "/portal/static/verify.js": (VERIFY_JS.read_bytes, "text/javascript; charset=utf-8"),
            "/harness.html": (HARNESS.read_bytes, "text/html; charset=utf-8"),
        }
        self.requests: list[str] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: _Site

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        found = self.server.pages.get(self.path.split("?")[0])
        if found is None:
            self.send_error(404)
            return
        body = found[0]()
        self.send_response(200)
        self.send_header("Content-Type", found[1])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[_Site]:
    server = _Site()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1"]
        )
        try:
            yield browser
        finally:
            browser.close()


def _open(chromium: Any, url: str) -> Any:
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("window.verifyLoaded === true", timeout=10_000)
    assert not errors, errors
    return page


@pytest.fixture(scope="module")
def page(chromium: Any, site: _Site) -> Iterator[Any]:
    page = _open(chromium, f"http://127.0.0.1:{site.port}/harness.html")
    yield page
    page.close()


@pytest.fixture
def form_page(chromium: Any, site: _Site) -> Iterator[Any]:
    page = _open(chromium, f"http://127.0.0.1:{site.port}/harness.html")
    yield page
    page.close()


# --------------------------------------------------------------------------- a log built with the ledger modules


@dataclass
class Log:
    signer: NoteSigner = field(default_factory=lambda: NoteSigner(ORIGIN, SigningKey.generate()))
    actor: SigningKey = field(default_factory=SigningKey.generate)
    witnesses: dict[str, SigningKey] = field(
        default_factory=lambda: {W1: SigningKey.generate(), W2: SigningKey.generate()})
    leaves: list[bytes] = field(default_factory=list)
    store: MemoryNodeStore = field(default_factory=MemoryNodeStore)

    def entry(self, n: int, **effects: Any) -> bytes:
        command = {"kind": "voucher.issue", "actor": "party-core", "nonce": f"n{n}", "issued_at": AT,
                   "body": {"amount": f"{n + 1}00.00", "currency": "CNY"}}
        return build_leaf(event_id=f"e{n}", kind="voucher.issue", at=AT, command=command,
                          signature=sign_command(command, self.actor), effects={"voucher": f"v{n}", **effects})

    def append(self, leaf: bytes) -> None:
        self.store.put_many(nodes_to_append(len(self.leaves), [leaf_hash(leaf)], self.store))
        self.leaves.append(leaf)

    def checkpoint(self, size: int) -> Checkpoint:
        return Checkpoint(ORIGIN, size, root(size, self.store))

    def note(self, size: int, cosigners: tuple[str, ...] = (), *, timestamp: int = TS) -> str:
        cp = self.checkpoint(size)
        note = sign_checkpoint(cp, self.signer)
        lines = [cosign(cp, name, self.witnesses[name], timestamp) for name in cosigners]
        return add_signatures(note, lines) if lines else note

    def receipt(self, index: int, size: int) -> dict[str, Any]:
        return {"event_id": f"e{index}", "index": index, "tree_size": size, "leaf": b64e(self.leaves[index]),
                "proof": [b64e(h) for h in inclusion_proof(index, size, self.store)]}

    @property
    def vkey(self) -> str:
        return verifier_key(self.signer.name, self.signer.public_key)

    def wkey(self, name: str) -> str:
        return cosigner_verifier_key(name, bytes(self.witnesses[name].verify_key))


@pytest.fixture(scope="module")
def log() -> Log:
    log = Log()
    for n in range(1000):
        log.append(log.entry(n))
    return log


@dataclass(frozen=True)
class Inputs:
    receipt: Any
    note: str
    vkey: str
    witnesses: tuple[str, ...] = ()
    minimum: int = 0


JS_VERIFY = """async ([receipt, note, vkey, witnesses, minimum]) => {
  try {
    const options = {witnessVkeys: witnesses, minCosignatures: minimum};
    const result = await window.verify.verifyReceipt(receipt, note, vkey, options);
    return {ok: true, result};
  } catch (e) {
    return {ok: false, name: e.name, message: e.message, check: e.check ?? null, steps: e.steps ?? []};
  }
}"""


def js_verify(page: Any, i: Inputs) -> dict[str, Any]:
    out: dict[str, Any] = page.evaluate(JS_VERIFY, [i.receipt, i.note, i.vkey, list(i.witnesses), i.minimum])
    return out


def py_verify(i: Inputs) -> tuple[bool, str]:
    """The Python reference, with the portal's JSON step in front (``receipts.check_on_server``)."""
    try:
        receipt = json.loads(i.receipt) if isinstance(i.receipt, str) else i.receipt
        if not isinstance(receipt, dict):
            raise ValueError("the receipt must be a JSON object")
        verify_receipt(receipt, i.note, i.vkey, witness_vkeys=list(i.witnesses), min_cosignatures=i.minimum)
    except ValueError as error:
        return False, str(error)
    return True, ""


# --------------------------------------------------------------------------- valid receipts

VALID = [(size, index) for size in (1, 2, 3, 7, 8, 1000) for index in sorted({0, size // 2, size - 1})]
VALID += [(1000, 511), (1000, 512), (1000, 998)]


@pytest.mark.parametrize(("size", "index"), VALID, ids=[f"size{s}-index{i}" for s, i in VALID])
def test_valid_receipt(page: Any, log: Log, size: int, index: int) -> None:
    witnessed = index % 2 == 0
    inputs = Inputs(
        log.receipt(index, size),
        log.note(size, (W1, W2) if witnessed else ()),
        log.vkey,
        (log.wkey(W1), log.wkey(W2)) if witnessed else (),
        2 if witnessed else 0,
    )
    out = js_verify(page, inputs)
    assert out["ok"], out
    result = out["result"]
    assert result["origin"] == ORIGIN
    assert result["treeSize"] == size and result["index"] == index
    assert result["root"] == b64e(root(size, log.store))
    assert result["leafHash"] == leaf_hash(log.leaves[index]).hex()
    assert result["entry"]["id"] == f"e{index}" and result["entry"]["kind"] == "voucher.issue"
    assert result["entry"]["command"]["actor"] == "party-core"
    assert result["cosigners"] == ([W1, W2] if witnessed else [])
    if witnessed:
        assert [c["timestamp"] for c in result["cosignatures"]] == [TS, TS]
    assert (len(inputs.receipt["proof"]) == 0) is (size == 1)
    steps = "\n".join(result["steps"])
    assert "Checkpoint signature" in steps and "inclusion proof" in steps and "canonical journal entry" in steps
    assert py_verify(inputs) == (True, "")


def test_receipt_as_json_text_and_extra_members(page: Any, log: Log) -> None:
    receipt = {**log.receipt(3, 7), "checkpoint": "ignored here", "note": "other members are ignored"}
    inputs = Inputs(json.dumps(receipt, indent=2), log.note(7), log.vkey)
    assert js_verify(page, inputs)["ok"]
    assert py_verify(inputs) == (True, "")


def test_unknown_and_invalid_cosignatures_are_not_fatal(page: Any, log: Log) -> None:
    forged = format_signature_line(W1, key_id(W1, COSIGNATURE_TYPE, bytes(log.witnesses[W1].verify_key)),
                                   struct.pack(">Q", TS) + bytes(64))
    note = add_signatures(log.note(8, (W2,)), [forged])
    inputs = Inputs(log.receipt(2, 8), note, log.vkey, (log.wkey(W1),))
    out = js_verify(page, inputs)
    assert out["ok"], out
    assert out["result"]["cosigners"] == []
    assert [(c["name"], c["known"], c["verified"]) for c in out["result"]["cosignatures"]] == [
        (W2, False, False), (W1, True, False)]
    assert py_verify(inputs) == (True, "")


def test_one_witness_counts_once(page: Any, log: Log) -> None:
    """Two cosignatures by the same witness (different timestamps) are one witness, not two."""
    cp = log.checkpoint(8)
    note = add_signatures(log.note(8, (W1,)), [cosign(cp, W1, log.witnesses[W1], TS + 60)])
    inputs = Inputs(log.receipt(2, 8), note, log.vkey, (log.wkey(W1),), 2)
    out = js_verify(page, inputs)
    assert not out["ok"] and out["message"] == "checkpoint has 1 valid cosignatures, 2 required"
    assert py_verify(inputs) == (False, "checkpoint has 1 valid cosignatures, 2 required")
    assert js_verify(page, replace(inputs, minimum=1))["ok"]


# --------------------------------------------------------------------------- rejected inputs


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _with(receipt: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**receipt, **changes}
    return {k: v for k, v in out.items() if v is not _DROP}


_DROP = object()


def _noncanonical_b64(value: str) -> str:
    """Same bytes' base64 with non-zero unused bits in the last character (32 bytes: 43 chars + '=')."""
    i = BASE64.index(value[42])
    return value[:42] + BASE64[i | 1 if i & 3 == 0 else i & ~3] + value[43:]


def _base(log: Log) -> Inputs:
    return Inputs(log.receipt(5, 8), log.note(8, (W1,)), log.vkey, (log.wkey(W1),), 0)


def _other_signer() -> NoteSigner:
    return NoteSigner(ORIGIN, SigningKey.generate())


@functools.cache
def _odd_log() -> Log:
    """A log of 8 leaves, leaf 0 good, the others not well-formed journal entries."""
    log = Log()
    good = log.entry(0, x=15)
    obj = json.loads(good)
    bad = [
        json.dumps(obj, indent=1).encode(),  # 1 not canonical
        good.replace(b'"x":15', b'"x":1.5'),  # 2 a float
        canonical_json({**obj, "extra": 1}),  # 3 an extra field
        canonical_json({**obj, "at": "2026-02-30T09:00:00Z"}),  # 4 no such day
        b"hello",  # 5 not JSON
        canonical_json({**obj, "v": 2}),  # 6 another version
        canonical_json({**obj, "command": {**obj["command"], "body": []}}),  # 7 body not an object
    ]
    for leaf in [good, *bad]:
        log.append(leaf)
    return log


@dataclass(frozen=True)
class Case:
    build: Callable[[Log], Inputs]
    message: str  # the JS message contains this
    same_message: bool = True  # ... and is word for word the Python message
    py_message: str = ""  # otherwise the Python message contains this (default: the JS message up to a colon)
    error: str = ""  # the JS error class, when it matters


def _odd(index: int) -> Callable[[Log], Inputs]:
    def build(_: Log) -> Inputs:
        odd = _odd_log()
        return Inputs(odd.receipt(index, 8), odd.note(8), odd.vkey)

    return build



def _resigned(log: Log, text: str) -> str:
    return sign_note(text, log.signer)


def _forged_platform_line(log: Log) -> str:
    body = log.checkpoint(8).body()
    return body + "\n" + format_signature_line(ORIGIN, log.signer.key_id, _other_signer().sign(body.encode()))


def _forged_cosignature(log: Log) -> str:
    cp = log.checkpoint(8)
    line = cosign(cp, W1, SigningKey.generate(), TS)  # right name, wrong key: the key id will not match ...
    _, _, value = line.rstrip("\n").split(" ")
    raw = b64d(value)
    kid = key_id(W1, COSIGNATURE_TYPE, bytes(log.witnesses[W1].verify_key))  # ... so claim W1's key id
    return add_signatures(log.note(8), [format_signature_line(W1, kid, raw[4:])])


def _b(log: Log, **receipt_changes: Any) -> Inputs:
    base = _base(log)
    return replace(base, receipt=_with(base.receipt, **receipt_changes))


CASES: dict[str, Case] = {
    # the leaf and the proof
    "tampered leaf": Case(lambda g: _b(g, leaf=b64e(_flip(g.leaves[5], 40))), "computed root does not match"),
    "leaf of another entry": Case(lambda g: _b(g, leaf=b64e(g.leaves[4])), "computed root does not match"),
    "tampered proof hash": Case(
        lambda g: _b(g, proof=[*_base(g).receipt["proof"][:1], b64e(_flip(b64d(_base(g).receipt["proof"][1]), 7)),
                               *_base(g).receipt["proof"][2:]]), "computed root does not match"),
    "wrong index": Case(lambda g: _b(g, index=4), "computed root does not match"),
    "index out of range": Case(lambda g: _b(g, index=8), "index 8 out of range for tree size 8"),
    "negative index": Case(lambda g: _b(g, index=-1), "index -1 out of range for tree size 8"),
    "proof too short": Case(lambda g: _b(g, proof=_base(g).receipt["proof"][:-1]), "proof has 2 hashes, expected 3"),
    "proof too long": Case(lambda g: _b(g, proof=[*_base(g).receipt["proof"], _base(g).receipt["proof"][0]]),
                           "proof has 4 hashes, expected 3"),
    "proof for size 1 is empty": Case(
        lambda g: Inputs(_with(g.receipt(0, 1), proof=[b64e(bytes(32))]), g.note(1), g.vkey),
        "proof has 1 hashes, expected 0"),
    "short proof hash": Case(lambda g: _b(g, proof=[b64e(bytes(16)), *_base(g).receipt["proof"][1:]]),
                             "proof hash 0 has 16 bytes, expected 32"),
    "wrong-size receipt": Case(lambda g: _b(g, tree_size=7),
                               "receipt is for tree size 7 but the checkpoint is for 8"),
    "receipt for an older checkpoint": Case(lambda g: replace(_base(g), receipt=g.receipt(5, 7)),
                                            "receipt is for tree size 7 but the checkpoint is for 8"),
    # the receipt's shape and base64
    "leaf not base64": Case(lambda g: _b(g, leaf="not base64!"), "receipt leaf: invalid base64", False),
    "leaf missing": Case(lambda g: _b(g, leaf=_DROP), "receipt leaf must be a base64 string"),
    "proof hash unpadded": Case(lambda g: _b(g, proof=[p.rstrip("=") for p in _base(g).receipt["proof"]]),
                                "receipt proof: invalid base64", False),
    "proof hash non-canonical base64": Case(
        lambda g: _b(g, proof=[_noncanonical_b64(p) for p in _base(g).receipt["proof"]]),
        "receipt proof: invalid base64: non-canonical encoding"),
    "proof hash url-safe alphabet": Case(lambda g: _b(g, proof=["-_" + p[2:] for p in _base(g).receipt["proof"]]),
                                         "receipt proof: invalid base64", False),
    "proof not a list": Case(lambda g: _b(g, proof="AAAA"), "receipt proof must be a list of base64 hashes"),
    "index is a string": Case(lambda g: _b(g, index="5"), "receipt index and tree_size must be integers"),
    "index is fractional": Case(lambda g: _b(g, index=5.5), "receipt index and tree_size must be integers"),
    "malformed JSON": Case(lambda g: replace(_base(g), receipt='{"index": 5,'), "receipt is not valid JSON", False,
                           "Expecting"),
    "receipt not an object": Case(lambda g: replace(_base(g), receipt="[5, 8]"), "the receipt must be a JSON object"),
    # the checkpoint and its signature
    "checkpoint signed by another key": Case(
        lambda g: replace(_base(g), note=sign_checkpoint(g.checkpoint(8), _other_signer())),
        f"note has no signature from {ORIGIN}"),
    "another platform's key pinned": Case(
        lambda g: replace(_base(g), vkey=verifier_key(ORIGIN, _other_signer().public_key)),
        f"note has no signature from {ORIGIN}"),
    "forged platform signature line": Case(
        lambda g: replace(_base(g), note=_forged_platform_line(g)), "does not verify", error="NoteError"),
    "tampered root": Case(
        lambda g: replace(_base(g), note=_base(g).note.replace(b64e(root(8, g.store)), b64e(root(7, g.store)))),
        "does not verify"),
    "tampered tree size": Case(lambda g: replace(_base(g), note=_base(g).note.replace("\n8\n", "\n9\n", 1)),
                               "does not verify"),
    "signed checkpoint with a wrong root": Case(
        lambda g: replace(_base(g), note=sign_checkpoint(Checkpoint(ORIGIN, 8, root(7, g.store)), g.signer)),
        "computed root does not match"),
    "size with a leading zero": Case(
        lambda g: replace(_base(g), note=_resigned(g, g.checkpoint(8).body().replace("\n8\n", "\n08\n"))),
        "is not a decimal without leading zeros", False),
    "root of 31 bytes": Case(
        lambda g: replace(_base(g), note=_resigned(g, f"{ORIGIN}\n8\n{b64e(bytes(31))}\n")),
        "checkpoint root has 31 bytes, expected 32"),
    "body of two lines": Case(lambda g: replace(_base(g), note=_resigned(g, f"{ORIGIN}\n8\n")),
                              "checkpoint body has fewer than three lines"),
    "note without final newline": Case(lambda g: replace(_base(g), note=_base(g).note[:-1]),
                                       "note does not end with a newline"),
    "note with CRLF line ends": Case(lambda g: replace(_base(g), note=_base(g).note.replace("\n", "\r\n")),
                                     "note contains a control character"),
    "note without signatures": Case(lambda g: replace(_base(g), note=g.checkpoint(8).body() + "\n"),
                                    "note has no signatures"),
    "note without blank line": Case(lambda g: replace(_base(g), note=g.checkpoint(8).body()),
                                    "note has no signature block (missing blank line)"),
    "signature line with a hyphen": Case(lambda g: replace(_base(g), note=_base(g).note.replace("\u2014", "-")),
                                         "signature line does not start with an em dash and a space", False),
    # keys
    "witness key pinned as platform key": Case(lambda g: replace(_base(g), vkey=g.wkey(W1)),
                                               "verifier key type 0x04 is not Ed25519 (0x01)"),
    "platform key given as witness key": Case(lambda g: replace(_base(g), witnesses=(g.vkey,)),
                                              "verifier key type 0x01 is not a cosignature/v1 key (0x04)"),
    "key id does not match": Case(lambda g: replace(_base(g), vkey=g.vkey.replace(g.signer.key_id.hex(), "00000000")),
                                  "verifier key id does not match the key"),
    "key id in upper case": Case(lambda g: replace(_base(g), vkey=g.vkey.replace(g.signer.key_id.hex(), "ABCDEF12")),
                                 "verifier key id must be 8 lowercase hex digits"),
    "key not name+id+key": Case(lambda g: replace(_base(g), vkey="just-a-name"),
                                "verifier key must have the form name+keyid+base64key"),
    # cosignatures
    "cosignature missing": Case(lambda g: replace(_base(g), note=g.note(8), minimum=1),
                                "checkpoint has 0 valid cosignatures, 1 required"),
    "cosignature by an unlisted witness": Case(lambda g: replace(_base(g), note=g.note(8, (W2,)), minimum=1),
                                               "checkpoint has 0 valid cosignatures, 1 required"),
    "forged cosignature": Case(lambda g: replace(_base(g), note=_forged_cosignature(g), minimum=1),
                               "checkpoint has 0 valid cosignatures, 1 required"),
    "cosignature of another checkpoint": Case(
        lambda g: replace(_base(g), note=add_signatures(g.note(8), [cosign(g.checkpoint(7), W1, g.witnesses[W1], TS)]),
                          minimum=1),
        "checkpoint has 0 valid cosignatures, 1 required"),
    "two witnesses required, one cosigned": Case(
        lambda g: replace(_base(g), witnesses=(g.wkey(W1), g.wkey(W2)), minimum=2),
        "checkpoint has 1 valid cosignatures, 2 required"),
    # the leaf is in the tree but is not a well-formed entry
    "leaf not canonical": Case(_odd(1), "leaf bytes are not in canonical form", error="EnvelopeError"),
    "leaf with a float": Case(_odd(2), "leaf is not JSON without floats: float 1.5 is not allowed"),
    "leaf with an extra field": Case(
        _odd(3), "leaf fields wrong: ['at', 'command', 'effects', 'extra', 'id', 'kind', 'signature', 'v']"),
    "leaf dated 30 February": Case(_odd(4), "is not a valid date and time", False),
    "leaf not JSON": Case(_odd(5), "leaf is not JSON without floats", False),
    "leaf of version 2": Case(_odd(6), "unsupported leaf version 2"),
    "leaf command body not an object": Case(_odd(7), "command body must be a JSON object"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rejected(page: Any, log: Log, name: str) -> None:
    case = CASES[name]
    inputs = case.build(log)
    out = js_verify(page, inputs)
    assert not out["ok"], f"{name}: accepted"
    assert case.message in out["message"], out
    if case.error:
        assert out["name"] == case.error, out
    py_ok, py_message = py_verify(inputs)
    assert not py_ok, f"{name}: the Python verifier accepts it"
    if case.same_message:
        assert out["message"] == py_message
    else:
        assert (case.py_message or case.message.split(":")[0]) in py_message, py_message


def test_good_leaf_of_the_odd_log_verifies(page: Any) -> None:
    """The control for the malformed-leaf cases: the same checkpoint with its one good leaf is accepted."""
    odd = _odd_log()
    inputs = Inputs(odd.receipt(0, 8), odd.note(8), odd.vkey)
    assert js_verify(page, inputs)["ok"]
    assert py_verify(inputs) == (True, "")


def test_failure_lists_the_checks_that_passed(page: Any, log: Log) -> None:
    out = js_verify(page, _b(log, index=4))
    assert out["name"] == "ProofError" and out["check"] == "proof"
    steps = "\n".join(out["steps"])
    assert "Checkpoint signature" in steps and "tree size (8)" in steps and "Leaf hash" in steps
    assert "leads from the leaf" not in steps


# --------------------------------------------------------------------------- building blocks


def test_building_blocks(page: Any, log: Log) -> None:
    leaf = log.leaves[3]
    out = page.evaluate(
        """async ([leafB64, vkey, wkey, note]) => {
          const v = window.verify;
          const key = await v.parseVerifierKey(vkey);
          const witness = await v.parseWitnessKey(wkey);
          const parsed = v.parseNote(note);
          const opened = await v.verifySignedNote(note, key, {knownCosigners: [witness]});
          const body = v.parseCheckpointBody(opened.text);
          return {
            leafHash: v.toHex(await v.leafHash(v.b64decode(leafB64))),
            key: [key.name, key.keyIdHex, key.type], witness: [witness.name, witness.keyIdHex, witness.type],
            lines: parsed.signatures.map((s) => [s.name, s.keyIdHex]),
            text: parsed.text, verified: opened.signatures.map((s) => [s.verified, s.timestamp]),
            body: [body.origin, Number(body.size), body.rootB64],
            entry: v.parseLeaf(v.b64decode(leafB64)).id,
          };
        }""",
        [b64e(leaf), log.vkey, log.wkey(W1), log.note(8, (W1,))],
    )
    wid = key_id(W1, COSIGNATURE_TYPE, bytes(log.witnesses[W1].verify_key)).hex()
    assert out["leafHash"] == leaf_hash(leaf).hex()
    assert out["key"] == [ORIGIN, log.signer.key_id.hex(), 1]
    assert out["witness"] == [W1, wid, 4]
    assert out["lines"] == [[ORIGIN, log.signer.key_id.hex()], [W1, wid]]
    assert out["text"] == log.checkpoint(8).body()
    assert out["verified"] == [[True, None], [True, TS]]
    assert out["body"] == [ORIGIN, 8, b64e(root(8, log.store))]
    assert out["entry"] == "e3"


def test_base64_is_strict(page: Any) -> None:
    out = page.evaluate(
        """(values) => values.map((s) => {
          try { window.verify.b64decode(s); return true; } catch { return false; }
        })""",
        ["", "AA==", "AAA=", "AAAA", "AB==", "AAB=", "AA", "AA=", "A===", "AA==AA==", " AA==", "AA==\n", "-_8=",
         "Zm9v"],
    )
    assert out == [True, True, True, True, False, False, False, False, False, False, False, False, False, True]


def _vector_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(VECTORS.glob("**/*.json")):
        case = json.loads(path.read_text())
        cases.append({"name": str(path.relative_to(VECTORS)), "leafIdx": str(case["leafIdx"]),
                      "treeSize": str(case["treeSize"]), "root": case["root"], "leafHash": case["leafHash"],
                      "proof": case["proof"] or [], "wantErr": case["wantErr"]})
    return cases


@pytest.mark.skipif(not VECTORS.is_dir(), reason=f"RFC 9162 test vectors not found at {VECTORS}")
def test_rfc9162_inclusion_vectors(page: Any) -> None:
    cases = _vector_cases()
    assert len(cases) > 50
    out = page.evaluate(
        """async (cases) => {
          const v = window.verify;
          const results = [];
          for (const c of cases) {
            let accepted = true;
            try {
              await v.verifyInclusion(v.b64decode(c.leafHash), BigInt(c.leafIdx), BigInt(c.treeSize),
                                      c.proof.map(v.b64decode), v.b64decode(c.root));
            } catch { accepted = false; }
            results.push(accepted);
          }
          return results;
        }""",
        cases,
    )
    wrong = [c["name"] for c, accepted in zip(cases, out, strict=True) if accepted is c["wantErr"]]
    assert not wrong, wrong


# --------------------------------------------------------------------------- secure contexts only


def test_insecure_page_refuses_clearly(chromium: Any, site: _Site, log: Log) -> None:
    page = _open(chromium, f"http://{INSECURE_HOST}:{site.port}/harness.html")
    try:
        assert page.evaluate("window.isSecureContext") is False
        out = js_verify(page, _base(log))
        assert not out["ok"] and out["name"] == "EnvironmentError", out
        assert "needs HTTPS or localhost" in out["message"]
        fill_form(page, _base(log))
        page.get_by_role("button", name="Verify in this browser").click()
        result = page.locator("#verify-result")
        result.get_by_text("Not verified").wait_for(timeout=10_000)
        assert "needs HTTPS or localhost" in result.inner_text()
    finally:
        page.close()


# --------------------------------------------------------------------------- the form (wire)


def fill_form(page: Any, i: Inputs, *, checkpoint: str | None = None) -> None:
    receipt = i.receipt if isinstance(i.receipt, str) else json.dumps(i.receipt, indent=2)
    page.locator("#receipt").fill(receipt)
    page.locator("#checkpoint").fill(i.note if checkpoint is None else checkpoint)
    page.locator("#vkey").fill(i.vkey)
    page.locator("#witness_vkeys").fill("\n".join(i.witnesses))
    page.locator("#min_cosignatures").fill(str(i.minimum))


def submit(page: Any, expect: str) -> str:
    page.evaluate("document.getElementById('verify-result').replaceChildren()")
    page.get_by_role("button", name="Verify in this browser").click()
    result = page.locator("#verify-result")
    result.get_by_role("heading", name=expect, exact=True).wait_for(timeout=10_000)
    return str(result.inner_text())


def test_form_verified(form_page: Any, site: _Site, log: Log) -> None:
    result = form_page.locator("#verify-result")
    assert result.get_attribute("role") == "status" and result.get_attribute("aria-live") == "polite"
    url = form_page.url
    inputs = replace(_base(log), witnesses=(log.wkey(W1), log.wkey(W2)), minimum=1)
    fill_form(form_page, inputs)
    text = submit(form_page, "Verified (checked in this browser)")
    assert "voucher.issue by party-core at 2026-01-05T09:00:00Z" in text
    assert "Entry e5" in text
    assert result.locator("li").count() >= 6
    assert f"Cosignature by witness {W1}" in text and "1 witness cosignature(s) check out; 1 required" in text
    assert form_page.url == url
    assert not [r for r in site.requests if r.startswith("/server-check")], "the form was posted to the server"


def test_form_not_verified_then_verified(form_page: Any, log: Log) -> None:
    inputs = _base(log)
    fill_form(form_page, inputs)
    text = form_page.locator("#receipt").input_value().replace('"index": 5', '"index": 6')
    form_page.locator("#receipt").fill(text)
    out = submit(form_page, "Not verified (checked in this browser)")
    assert "computed root does not match" in out
    assert "Checks passed before the failure" in out
    fill_form(form_page, inputs)
    submit(form_page, "Verified (checked in this browser)")
    assert "computed root" not in form_page.locator("#verify-result").inner_text()


def test_form_malformed_json(form_page: Any, log: Log) -> None:
    fill_form(form_page, replace(_base(log), receipt='{"index": 5, "leaf": '))
    assert "receipt is not valid JSON" in submit(form_page, "Not verified (checked in this browser)")


def test_form_tolerates_pasted_line_ends(form_page: Any, log: Log) -> None:
    """CRLF and a lost final newline (not part of the signed text) are normalised; an empty checkpoint field
    falls back to the receipt's own checkpoint."""
    inputs = _base(log)
    fill_form(form_page, inputs, checkpoint=inputs.note.replace("\n", "\r\n").rstrip())
    submit(form_page, "Verified (checked in this browser)")
    with_note = {**inputs.receipt, "checkpoint": inputs.note}
    fill_form(form_page, replace(inputs, receipt=with_note), checkpoint="")
    submit(form_page, "Verified (checked in this browser)")


def test_form_entry_text_is_not_html(form_page: Any, site: _Site) -> None:
    """Entry fields are written as text: markup in a (validly signed) entry is shown, never run."""
    log = Log()
    command = {"kind": "voucher.issue", "actor": "<img src=x onerror=window.pwned=1>", "nonce": "n0",
               "issued_at": AT, "body": {}}
    log.append(build_leaf(event_id="e0", kind="voucher.issue", at=AT, command=command,
                          signature=sign_command(command, log.actor), effects={}))
    fill_form(form_page, Inputs(log.receipt(0, 1), log.note(1), log.vkey))
    text = submit(form_page, "Verified (checked in this browser)")
    assert "<img src=x onerror=window.pwned=1>" in text
    assert form_page.evaluate("window.pwned") is None


# --------------------------------------------------------------------------- a whole platform, the portal's form


def test_platform_receipt_in_the_portal_form(
    chromium: Any, site: _Site, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A receipt from a real platform (SQLite), cosigned by a bank as a witness, prefilled exactly as the
    portal does (``receipts.prefilled``) into the portal's own ``_verify_form.html``: the browser says
    Verified, and so does the server-side fallback."""
    import jinja2

    from tests.conftest import Chain, FakeClock
    from tierflow.bootstrap import open_platform
    from tierflow.config import Settings
    from tierflow.portal.receipts import check_on_server, prefilled

    tmp = tmp_path_factory.mktemp("platform")
    clock = FakeClock()
    platform = open_platform(
        Settings(database_url=f"sqlite:///{tmp / 't.db'}", data_dir=tmp / "var", trade_checks="record"), clock=clock
    )
    try:
        chain = Chain(platform, clock)
        maturity = (clock.now + timedelta(days=90)).date().isoformat()
        accepted = platform.ledger.submit(chain.core.command("voucher.issue", {
            "first_holder": chain.tier1.party_id, "amount": "1000.00", "currency": "CNY", "maturity": maturity,
            "contract_ref": "PO-1", "invoice_refs": ["INV-1"]}, now=clock))
        platform.journal.integrate_all()
        record = platform.journal.publish_checkpoint()
        assert record is not None
        line = cosign(Checkpoint(platform.journal.origin, record.size, record.root), chain.bank.party_id,
                      chain.bank.signing_key, int(clock.now.timestamp()))
        with platform.uow() as uow:
            bank = uow.repo.get_party(chain.bank.party_id)
        assert bank is not None
        platform.journal.add_cosignature(bank, record.size, line)
        with platform.uow() as uow:
            operator = uow.repo.get_party(platform.operator.party_id)
        assert operator is not None
        form, receipt = prefilled(platform, operator, accepted.event_id)
        form = replace(form, min_cosignatures=1)
        assert receipt["event_id"] == accepted.event_id
        assert check_on_server(form)[0], check_on_server(form)
    finally:
        platform.close()

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    html = env.get_template("_verify_form.html").render(form=form, verify_action="/server-check", server_check=None)
    page_html = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Verify</title></head>'
                 f"<body><main>{html}</main></body></html>").encode()
    site.pages["/portal-form.html"] = (lambda: page_html, "text/html; charset=utf-8")
    page = chromium.new_page()
    try:
        page.goto(f"http://127.0.0.1:{site.port}/portal-form.html")
        page.wait_for_load_state("networkidle")
        text = submit(page, "Verified (checked in this browser)")
        assert "voucher.issue by" in text and chain.core.party_id in text
        assert f"Cosignature by witness {chain.bank.party_id}" in text
        page.locator("#vkey").fill(verifier_key("someone-else", SigningKey.generate().verify_key.encode()))
        assert "note has no signature from someone-else" in submit(page, "Not verified (checked in this browser)")
        assert not [r for r in site.requests if r.startswith("/server-check")]
    finally:
        page.close()
