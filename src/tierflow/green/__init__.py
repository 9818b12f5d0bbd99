"""Green finance: taxonomies and labels, carbon accounting, product footprints, green-linked pricing, ESG figures.

Pure computation over versioned reference data shipped with the package (``green/data``): it imports the domain
and nothing that does I/O beyond reading that data, so every figure can be recomputed by anyone from the same
inputs and the same data versions.

- ``taxonomy``: green taxonomies (China's Green Finance Support Project Catalogue 2025, the Green Bond Endorsed
  Projects Catalogue 2021) as versioned trees with codes and criteria, and a cross-walk between them;
- ``units`` / ``factors`` / ``accounting``: activity data with checked units, a versioned emission-factor
  library, and Scope 1, 2 (location- and market-based) and 3 (the GHG Protocol's 15 categories) emissions,
  every result with its audit trail;
- ``pact`` / ``rollup``: the PACT (WBCSD) product footprint data model, and cradle-to-gate footprints rolled up
  a supplier graph in one sparse solve;
- ``sll``: sustainability-linked loan terms, KPIs and the margin ratchet;
- ``esg``: HKEX ESG-guide KPIs and the report.
"""
