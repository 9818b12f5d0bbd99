"""Export the journal for offline verification: ``journal.jsonl`` (one ``{"index", "leaf"}`` per line, up to
the latest checkpoint), ``checkpoint.txt`` (the signed note with cosignatures), ``platform.vkey`` and
``witnesses.vkeys`` (the cosigner keys of the parties that cosigned)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tierflow.bootstrap import Platform
from tierflow.ledger.cosignature import cosigner_verifier_key
from tierflow.store import schema as t

CHUNK = 5000


def export_journal(
    platform: Platform, out: Path, *, on_progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    note = platform.journal.latest_checkpoint()
    size = int(note.split("\n")[1])
    with platform.uow() as uow, (out / "journal.jsonl").open("w") as handle:
        for start in range(0, size, CHUNK):
            rows = uow.tree.leaves(start, min(size, start + CHUNK))
            for index, _, leaf in rows:
                handle.write(json.dumps({"index": index, "leaf": base64.b64encode(leaf).decode()}) + "\n")
            if on_progress:
                on_progress(len(rows))
        witnesses = (
            uow.conn.execute(t.cosignatures.select().with_only_columns(t.cosignatures.c.witness_id).distinct())
            .scalars()
            .all()
        )
        keys = []
        for witness_id in sorted(witnesses):
            party = uow.repo.get_party(witness_id)
            if party is not None:
                keys.append(cosigner_verifier_key(party.id, party.public_key))
    (out / "checkpoint.txt").write_text(note)
    (out / "platform.vkey").write_text(platform.journal.verifier_key() + "\n")
    (out / "witnesses.vkeys").write_text("".join(k + "\n" for k in keys))
    return {"tree_size": size, "folder": str(out), "witnesses": len(keys)}
