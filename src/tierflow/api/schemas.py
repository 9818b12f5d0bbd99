"""Wire shapes. Commands travel exactly as signed: ``{"command": {...}, "signature": "<base64>"}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SignedCommandIn(BaseModel):
    command: dict[str, Any] = Field(
        description="The command as signed: kind, actor, nonce, issued_at (RFC 3339 UTC), body.",
        json_schema_extra={
            "example": {
                "kind": "transfer.offer",
                "actor": "pty_…",
                "nonce": "q2VvJ0n1mD8aVb2c",
                "issued_at": "2026-11-25T08:00:00Z",
                "body": {
                    "holding_id": "hld_…",
                    "recipient": "pty_…",
                    "amount": "250000.00",
                    "currency": "CNY",
                    "trade_ref": "PO-7781",
                    "invoice_refs": ["44031234567890123456"],
                },
            }
        },
    )
    signature: str = Field(
        description="Base64 Ed25519 signature over b'tierflow/command/v1\\n' + RFC 8785 bytes of `command`.",
        max_length=200,
    )


class Accepted(BaseModel):
    event_id: str
    kind: str
    at: str
    effects: dict[str, Any]
    warnings: list[str]


class Registered(Accepted):
    token: str | None = Field(None, description="The new party's API token, shown once.")


class ListPage(BaseModel):
    data: list[dict[str, Any]]
    has_more: bool


class CosignatureIn(BaseModel):
    tree_size: int = Field(ge=1, le=2**62)
    signature_line: str = Field(
        max_length=400, description="One tlog-cosignature/v1 note signature line, '— <name> <base64>'."
    )


class CosignatureOut(BaseModel):
    tree_size: int
    witness: str
    timestamp: int


class Proof(BaseModel):
    tree_size: int
    hashes: list[str]


class InclusionProof(Proof):
    index: int


class ConsistencyProof(Proof):
    first: int


class Entry(BaseModel):
    index: int
    event_id: str
    leaf: str | None = Field(description="Base64 leaf bytes; null when the entry does not concern you.")
    leaf_hash: str
