"""Adapters to the world outside the platform, behind the ports of ``tierflow.services.external``.

Each module speaks one outside standard or service:

- ``contract_pdf``: the financing contract as a PDF (fpdf2);
- ``esign``: PAdES signatures on that PDF with X.509 certificates (pyHanko), and a local certificate
  authority that stands in for a commercial e-signature service;
- ``iso20022``: ``pain.001`` credit-transfer initiations (validated against the official XSD) and
  ``camt.054`` debit/credit notifications (lxml, hardened parser);
- ``registry``, ``tax_invoice``, ``bank``: faithful fakes of the movable-asset financing registry, the tax
  authority's invoice verification and a bank's payment gateway. They keep the real interfaces' shape and
  refusals so that production adapters can replace them without touching the services.

Nothing here imports the store, the API or the portal; the services reach these modules only through ports.
"""
