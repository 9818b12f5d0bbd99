"""The tax authority's word on a VAT e-invoice, asked before the invoice is registered on the platform.

An invoice the authority reports void (作废) or reversed by a red-letter invoice (红冲), or whose date, total or
USCCs differ from the authority's record, is refused: it is the forged or recycled invoice the trade checks
exist to stop. An invoice the authority does not know passes with a warning (a newly issued invoice may not
have reached the verification service yet); the platform's own rules still apply to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tierflow.domain.documents import VatInvoice
from tierflow.domain.errors import DomainError
from tierflow.services.documents import build_document
from tierflow.services.errors import ExternalRefusal
from tierflow.services.external import ExternalServiceError, InvoiceQuery, InvoiceState, TaxInvoiceVerifier


def check_with_tax_authority(verifier: TaxInvoiceVerifier, command: Mapping[str, Any]) -> list[str]:
    """Warnings for a ``document.register`` command of a VAT e-invoice; raises ``external_service_refused`` when
    the authority contradicts it. Other commands, and bodies too malformed to read, are left to the ledger's
    own checks (which refuse them with the precise reason)."""
    body = command.get("body")
    if command.get("kind") != "document.register" or not isinstance(body, Mapping):
        return []
    if body.get("type") != VatInvoice.DOCUMENT_TYPE:
        return []
    try:
        invoice = build_document(VatInvoice.DOCUMENT_TYPE, body.get("fields"))
    except DomainError:
        return []
    assert isinstance(invoice, VatInvoice)
    query = InvoiceQuery(
        number=invoice.number,
        issue_date=invoice.issued_on,
        total_minor=invoice.total_minor,
        seller_uscc=invoice.seller_uscc,
        buyer_uscc=invoice.buyer_uscc,
    )
    try:
        answer = verifier.check(query)
    except ExternalServiceError as exc:
        return [f"the tax authority's verification service did not answer ({exc}); the invoice is unverified"]
    if answer.state is InvoiceState.NOT_FOUND:
        return [f"the tax authority does not know invoice {invoice.number} yet: {answer.detail}"]
    if answer.state is not InvoiceState.NORMAL or not answer.matches:
        raise ExternalRefusal(
            f"The tax authority's record of invoice {invoice.number} contradicts it: {answer.state.value}; "
            f"{answer.detail}",
            number=invoice.number,
            state=answer.state.value,
        )
    return []
