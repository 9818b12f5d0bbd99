"""The tamper-evident journal of tierflow.

Design overview
---------------
Every state change is a *command* signed by the acting party (Ed25519 over
``tierflow/command/v1\\n`` + RFC 8785 canonical JSON).  The server wraps the
command, its signature and the resulting effects into a canonical *journal
entry*; the entry bytes are a leaf of an append-only RFC 9162 Merkle tree.
The tree head is published as a C2SP *checkpoint* (a signed note) signed by the
platform key and optionally cosigned by independent witnesses
(tlog-cosignature/v1).  Anyone holding an export and the platform verifier key
can re-check everything offline: every signature, party key history, and the
Merkle root; a single entry can be checked with an inclusion receipt and two
checkpoints with a consistency proof.

Modules
-------
- ``canonical``    RFC 8785 canonical JSON (no floats) and strict base64.
- ``merkle``       RFC 9162 hashing; proofs computed from stored full subtrees
                   with one batched read; RFC 9162 verification algorithms.
- ``note``         C2SP signed notes, Ed25519 signer/verifier, verifier keys.
- ``checkpoint``   C2SP tlog-checkpoint body, signing and opening.
- ``cosignature``  C2SP tlog-cosignature/v1 witness cosignatures.
- ``envelope``     signed commands, journal entries (leaves), party key rules.
- ``verify``       offline verification of exports, receipts and consistency.

The package performs no I/O except reading export files in ``verify`` and
depends on no other tierflow package; storage adapters implement
``merkle.NodeReader``.
"""

from tierflow.ledger.canonical import b64d, b64e, canonical_json
from tierflow.ledger.checkpoint import (
    Checkpoint,
    Cosignature,
    SignedCheckpoint,
    open_checkpoint,
    parse_checkpoint_body,
    sign_checkpoint,
)
from tierflow.ledger.cosignature import (
    CosignatureVerifier,
    cosign,
    cosigner_verifier_key,
    parse_cosigner_verifier_key,
    verify_cosignature,
)
from tierflow.ledger.envelope import (
    COMMAND_CONTEXT,
    Entry,
    EnvelopeError,
    PartyKeys,
    SignatureError,
    build_leaf,
    command_digest,
    command_signing_bytes,
    format_rfc3339,
    parse_leaf,
    parse_rfc3339,
    sign_command,
    verify_command,
)
from tierflow.ledger.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    NodeReader,
    ProofError,
    TreeBuilder,
    consistency_proof,
    consistency_proof_keys,
    inclusion_proof,
    inclusion_proof_keys,
    leaf_hash,
    node_hash,
    nodes_to_append,
    root,
    root_keys,
    verify_consistency,
    verify_inclusion,
)
from tierflow.ledger.note import (
    NoteError,
    NoteSigner,
    NoteVerifier,
    OpenedNote,
    add_signatures,
    key_id,
    open_note,
    parse_verifier_key,
    sign_note,
    verifier_key,
)
from tierflow.ledger.verify import (
    VerificationReport,
    verify_consistency_between,
    verify_export,
    verify_receipt,
)

__all__ = [
    "COMMAND_CONTEXT",
    "EMPTY_ROOT",
    "Checkpoint",
    "Cosignature",
    "CosignatureVerifier",
    "Entry",
    "EnvelopeError",
    "MemoryNodeStore",
    "NodeReader",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "PartyKeys",
    "ProofError",
    "SignatureError",
    "SignedCheckpoint",
    "TreeBuilder",
    "VerificationReport",
    "add_signatures",
    "b64d",
    "b64e",
    "build_leaf",
    "canonical_json",
    "command_digest",
    "command_signing_bytes",
    "consistency_proof",
    "consistency_proof_keys",
    "cosign",
    "cosigner_verifier_key",
    "format_rfc3339",
    "inclusion_proof",
    "inclusion_proof_keys",
    "key_id",
    "leaf_hash",
    "node_hash",
    "nodes_to_append",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint_body",
    "parse_cosigner_verifier_key",
    "parse_leaf",
    "parse_rfc3339",
    "parse_verifier_key",
    "root",
    "root_keys",
    "sign_checkpoint",
    "sign_command",
    "sign_note",
    "verifier_key",
    "verify_command",
    "verify_consistency",
    "verify_consistency_between",
    "verify_cosignature",
    "verify_export",
    "verify_inclusion",
    "verify_receipt",
]
