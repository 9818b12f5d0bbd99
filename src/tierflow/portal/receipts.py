"""What the receipt pages show: an entry's inclusion receipt with the keys to check it, and the check itself
when it has to run on the server (a browser without JavaScript).

The browser check (``static/verify.js``) is the one that matters: it runs on the auditor's machine with the
verifier key the auditor pins. The server-side check is offered only as a fallback and is labelled so.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from tierflow.bootstrap import Platform
from tierflow.domain.model import Party
from tierflow.ledger.cosignature import cosigner_verifier_key
from tierflow.ledger.verify import verify_receipt


@dataclass(frozen=True, slots=True)
class ReceiptForm:
    receipt: str = ""
    checkpoint: str = ""
    vkey: str = ""
    witness_vkeys: str = ""
    min_cosignatures: int = 0


def cosigner_ids(note: str) -> list[str]:
    """The names on the cosignature lines of a checkpoint note (witness party ids), in order."""
    _, _, signatures = note.partition("\n\n")
    names = [line.split(" ")[1] for line in signatures.splitlines() if line.startswith("— ") and line.count(" ") >= 2]
    return names[1:]  # the first signature is the platform's own


def prefilled(platform: Platform, viewer: Party, event_id: str) -> tuple[ReceiptForm, dict[str, Any]]:
    """The receipt of ``event_id`` (visible to ``viewer``) with the platform's and the cosigners' keys."""
    platform.queries.event(viewer, event_id)  # NotFound unless the entry concerns the viewer
    receipt = platform.journal.receipt(event_id)
    note = str(receipt["checkpoint"])
    witnesses = [
        cosigner_verifier_key(party_id, base64.b64decode(platform.queries.party(viewer, party_id)["public_key"]))
        for party_id in cosigner_ids(note)
    ]
    form = ReceiptForm(
        receipt=json.dumps({k: v for k, v in receipt.items() if k != "checkpoint"}, indent=2),
        checkpoint=note,
        vkey=platform.journal.verifier_key(),
        witness_vkeys="\n".join(witnesses),
        min_cosignatures=0,
    )
    return form, receipt


def check_on_server(form: ReceiptForm) -> tuple[bool, str, dict[str, Any] | None]:
    """The same checks as the browser's, with the Python verifier: (ok, message, entry summary)."""
    try:
        receipt = json.loads(form.receipt)
        if not isinstance(receipt, dict):
            raise ValueError("the receipt must be a JSON object")
        entry = verify_receipt(
            receipt,
            form.checkpoint.replace("\r\n", "\n"),
            form.vkey.strip(),
            witness_vkeys=[line.strip() for line in form.witness_vkeys.splitlines() if line.strip()],
            min_cosignatures=form.min_cosignatures,
        )
    except Exception as error:  # every failure is an answer to show, not a crash
        return False, str(error) or type(error).__name__, None
    return True, "The entry is in the log that the signed checkpoint commits to.", {
        "id": entry.id,
        "kind": entry.kind,
        "at": entry.at,
        "actor": entry.command.get("actor"),
    }
