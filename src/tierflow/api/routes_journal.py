"""The journal: checkpoints (C2SP text), the verifier key, entries, proofs, witness cosignatures."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse

from tierflow.api.auth import CurrentParty, PlatformDep, Public
from tierflow.api.commands import IDEMPOTENCY_HEADER
from tierflow.api.problems import ApiProblem
from tierflow.api.schemas import ConsistencyProof, CosignatureIn, CosignatureOut, Entry, InclusionProof

router = APIRouter(prefix="/v1/journal", tags=["journal"])
Size = Annotated[int, Query(ge=0, le=2**62)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    dependencies=[Public],
    summary="The latest checkpoint, a C2SP signed note with every witness cosignature",
)
def checkpoint(platform: PlatformDep) -> PlainTextResponse:
    return PlainTextResponse(platform.journal.latest_checkpoint(), media_type="text/plain; charset=utf-8")


@router.get(
    "/checkpoints/{tree_size}",
    response_class=PlainTextResponse,
    dependencies=[Public],
    summary="A published checkpoint of a given size",
)
def checkpoint_of_size(platform: PlatformDep, tree_size: Annotated[int, Path(ge=1, le=2**62)]) -> PlainTextResponse:
    return PlainTextResponse(platform.journal.checkpoint_note(tree_size), media_type="text/plain; charset=utf-8")


@router.get(
    "/key",
    response_class=PlainTextResponse,
    dependencies=[Public],
    summary="The platform's checkpoint verifier key (signed-note vkey format)",
)
def key(platform: PlatformDep) -> PlainTextResponse:
    return PlainTextResponse(platform.journal.verifier_key() + "\n", media_type="text/plain; charset=utf-8")


@router.get("/entries", response_model=list[Entry], summary="Entries [start, end) of the published tree")
def entries(
    platform: PlatformDep,
    party: CurrentParty,
    start: Size = 0,
    end: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> list[Entry]:
    stop = start + 1000 if end is None else end
    if stop < start:
        raise ApiProblem(400, "invalid_range", "end must not be below start.")
    stop = min(stop, start + 1000)
    return [
        Entry(
            index=e.index,
            event_id=e.event_id,
            leaf=_b64(e.leaf) if e.leaf is not None else None,
            leaf_hash=_b64(e.leaf_hash),
        )
        for e in platform.journal.entries(start, stop, party)
    ]


@router.get(
    "/proofs/inclusion",
    response_model=InclusionProof,
    dependencies=[Public],
    summary="RFC 9162 inclusion proof of leaf `index` in the tree of `tree_size`",
)
def inclusion(platform: PlatformDep, index: Size, tree_size: Size) -> InclusionProof:
    hashes = platform.journal.inclusion_proof(index, tree_size)
    return InclusionProof(index=index, tree_size=tree_size, hashes=[_b64(h) for h in hashes])


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyProof,
    dependencies=[Public],
    summary="RFC 9162 consistency proof between two published tree sizes",
)
def consistency(platform: PlatformDep, first: Size, second: Size) -> ConsistencyProof:
    hashes = platform.journal.consistency_proof(first, second)
    return ConsistencyProof(first=first, tree_size=second, hashes=[_b64(h) for h in hashes])


@router.post(
    "/cosignatures",
    response_model=CosignatureOut,
    status_code=201,
    summary="A witness cosigns a published checkpoint (C2SP tlog-cosignature/v1)",
)
def cosign(request: Request, platform: PlatformDep, party: CurrentParty, payload: CosignatureIn) -> CosignatureOut:
    if not request.headers.get(IDEMPOTENCY_HEADER):
        raise ApiProblem(
            400, "idempotency_key_missing", f"State-changing requests need an {IDEMPOTENCY_HEADER} header."
        )
    timestamp = platform.journal.add_cosignature(party, payload.tree_size, payload.signature_line)
    return CosignatureOut(tree_size=payload.tree_size, witness=party.id, timestamp=timestamp)
