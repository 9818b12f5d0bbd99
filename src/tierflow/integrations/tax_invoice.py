"""A simulation of the tax authority's invoice verification service, standing in for the real one.

The real service
----------------

The State Taxation Administration's national VAT invoice verification platform (全国增值税发票查验平台,
inv-veri.chinatax.gov.cn) answers, for an invoice issued in China, whether the tax authority holds it and in
what state. For a fully digital e-invoice (全面数字化的电子发票, "全电"/"数电" invoice) the query is the
20-digit invoice number, the issue date and the total with tax (价税合计); the answer is the invoice as the
authority recorded it (seller and buyer with their unified social credit codes, amounts, lines) and its
state: normal, voided (作废) or offset by a red-letter invoice (红冲). A query whose fields do not agree with
the record is answered as a mismatch, not as the record. Invoices reach the register when the seller issues
them through the tax authority's e-invoice service; a fully digital invoice cannot be voided once issued and
is corrected only by a red-letter invoice, which may offset it in whole or in part.

What the simulation keeps
-------------------------

``SimulatedTaxAuthority`` implements ``tierflow.services.external.TaxInvoiceVerifier``. It holds the register
of issued invoices (``issue``) and their state changes (``void``, ``reverse``) and answers ``check`` with the
state and whether the issue date, the total and both parties' codes agree, saying in words which field
differs. It refuses malformed invoices (a number that is not 20 ASCII digits, a code that fails GB 32100-2015,
a total that is not a positive integer of fen) and numbers issued twice. ``void`` is kept for the invoice
types that can still be voided; a red-letter reversal here always offsets the whole invoice. There are no
captcha, daily query limits, invoice lines or tax amounts.

With a ``path``, every change is appended to a JSON-lines file (one object per line, flushed and fsynced) and
replayed on start; a torn last line left by a crash is dropped. One instance may be shared between threads;
the file is not meant to be shared between processes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tierflow.domain.documents import invoice_number_is_valid, uscc_problem
from tierflow.integrations.jsonlines import JsonLines
from tierflow.services.external import ExternalServiceError, InvoiceCheck, InvoiceQuery, InvoiceState


@dataclass(frozen=True, slots=True)
class IssuedInvoice:
    """The tax authority's record of one issued invoice."""

    number: str
    issue_date: date
    total_minor: int  # with tax, in fen
    seller_uscc: str
    buyer_uscc: str
    state: InvoiceState = InvoiceState.NORMAL


def _invalid(message: str) -> ExternalServiceError:
    return ExternalServiceError("tax_invalid", message)


def _fen(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    yuan, fen = divmod(abs(minor), 100)
    return f"{sign}{yuan}.{fen:02d} CNY"


class SimulatedTaxAuthority:
    """An in-process register of issued e-invoices with the verification query (see the module docstring)."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._invoices: dict[str, IssuedInvoice] = {}
        self._store = JsonLines(path, "tax_unavailable") if path is not None else None
        if self._store is not None:
            for record in self._store.load():
                self._replay(record)

    # --- the register ---------------------------------------------------------------------------------

    def issue(
        self, number: str, issue_date: date, total_minor: int, seller_uscc: str, buyer_uscc: str
    ) -> IssuedInvoice:
        """Record an issued invoice; raises ``tax_invalid`` for malformed input or a number already issued."""
        invoice = IssuedInvoice(number, issue_date, total_minor, seller_uscc, buyer_uscc)
        self._validate(invoice)
        with self._lock:
            if number in self._invoices:
                raise _invalid(f"invoice {number} has already been issued")
            self._persist({"op": "issue", **_invoice_to_json(invoice)})
            self._invoices[number] = invoice
            return invoice

    def void(self, number: str) -> IssuedInvoice:
        """Void (作废) a normal invoice; raises ``tax_not_found`` or, unless it is normal, ``tax_invalid``."""
        return self._change(number, InvoiceState.VOID)

    def reverse(self, number: str) -> IssuedInvoice:
        """Offset a normal invoice in full by a red-letter invoice (红冲); refusals as for ``void``."""
        return self._change(number, InvoiceState.REVERSED)

    def get(self, number: str) -> IssuedInvoice | None:
        """The authority's record of ``number``, or None."""
        with self._lock:
            return self._invoices.get(number)

    # --- the verification query -----------------------------------------------------------------------

    def check(self, query: InvoiceQuery) -> InvoiceCheck:
        """The invoice's state and whether the query's date, total and both USCCs agree with the record."""
        with self._lock:
            record = self._invoices.get(query.number)
        if record is None:
            why = "" if invoice_number_is_valid(query.number) else " (not a 20-digit fully digital invoice number)"
            return InvoiceCheck(query.number, InvoiceState.NOT_FOUND, False, f"no invoice {query.number!r} issued{why}")
        differences: list[str] = []
        if query.issue_date != record.issue_date:
            differences.append(
                f"issue date {_iso(query.issue_date)} differs from the issued {record.issue_date.isoformat()}"
            )
        if query.total_minor != record.total_minor:
            differences.append(
                f"total amount {_amount(query.total_minor)} differs from the issued {_fen(record.total_minor)}"
            )
        if query.seller_uscc != record.seller_uscc:
            differences.append(f"seller USCC {query.seller_uscc!r} differs from the issued {record.seller_uscc}")
        if query.buyer_uscc != record.buyer_uscc:
            differences.append(f"buyer USCC {query.buyer_uscc!r} differs from the issued {record.buyer_uscc}")
        state_words = {
            InvoiceState.NORMAL: "issued and valid",
            InvoiceState.VOID: "voided",
            InvoiceState.REVERSED: "offset by a red-letter invoice",
        }[record.state]
        agreement = "; ".join(differences) if differences else "date, total and both USCCs agree"
        return InvoiceCheck(
            record.number, record.state, not differences, f"invoice {record.number} {state_words}; {agreement}"
        )

    # --- internals ------------------------------------------------------------------------------------

    def _change(self, number: str, state: InvoiceState) -> IssuedInvoice:
        with self._lock:
            record = self._invoices.get(number)
            if record is None:
                raise ExternalServiceError("tax_not_found", f"no invoice {number!r} issued")
            if record.state is not InvoiceState.NORMAL:
                raise _invalid(
                    f"invoice {number} is {record.state.value}; only a normal invoice can become {state.value}"
                )
            self._persist({"op": state.value, "number": number})
            changed = replace(record, state=state)
            self._invoices[number] = changed
            return changed

    @staticmethod
    def _validate(invoice: IssuedInvoice) -> None:
        if not invoice_number_is_valid(invoice.number):
            raise _invalid(f"invoice number must be 20 ASCII digits; got {invoice.number!r}")
        if not isinstance(invoice.issue_date, date) or isinstance(invoice.issue_date, datetime):
            raise _invalid(f"issue_date must be a date; got {invoice.issue_date!r}")
        total = invoice.total_minor
        if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
            raise _invalid(f"total_minor must be a positive integer of fen; got {total!r}")
        for name in ("seller_uscc", "buyer_uscc"):
            problem = uscc_problem(getattr(invoice, name))
            if problem is not None:
                raise _invalid(f"{name}: {problem}")
        if invoice.seller_uscc == invoice.buyer_uscc:
            raise _invalid("seller and buyer must have different USCCs")

    def _persist(self, record: dict[str, Any]) -> None:
        if self._store is None:
            return
        try:
            self._store.append(record)
        except OSError as exc:
            raise ExternalServiceError("tax_unavailable", f"could not record the change: {exc}") from exc

    def _replay(self, record: dict[str, Any]) -> None:
        try:
            op = record["op"]
            if op == "issue":
                invoice = _invoice_from_json(record)
                self._invoices[invoice.number] = invoice
            elif op in (InvoiceState.VOID.value, InvoiceState.REVERSED.value):
                number = record["number"]
                self._invoices[number] = replace(self._invoices[number], state=InvoiceState(op))
            else:
                raise ValueError(f"unknown operation {op!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ExternalServiceError("tax_unavailable", f"unreadable invoice record {record!r}: {exc}") from exc


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else repr(value)


def _amount(value: object) -> str:
    return _fen(value) if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def _invoice_to_json(invoice: IssuedInvoice) -> dict[str, Any]:
    return {
        "number": invoice.number,
        "issue_date": invoice.issue_date.isoformat(),
        "total_minor": invoice.total_minor,
        "seller_uscc": invoice.seller_uscc,
        "buyer_uscc": invoice.buyer_uscc,
    }


def _invoice_from_json(data: dict[str, Any]) -> IssuedInvoice:
    return IssuedInvoice(
        number=str(data["number"]),
        issue_date=date.fromisoformat(data["issue_date"]),
        total_minor=int(data["total_minor"]),
        seller_uscc=str(data["seller_uscc"]),
        buyer_uscc=str(data["buyer_uscc"]),
    )
