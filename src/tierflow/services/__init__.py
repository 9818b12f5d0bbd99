"""Use cases: everything a party can do, each in one transaction.

Design overview: ``ledger.LedgerService`` verifies a signed command (``commands``), runs its handler
(``handlers``: load and lock, call the pure domain operation, store the outcome) and journals it, all in
one unit of work; ``submit_batch`` is the group commit. ``journal.JournalService`` integrates journalled
entries into the Merkle tree and signs checkpoints. ``queries.QueryService`` answers reads, scoped to what
the caller may see. ``replay`` rebuilds state from the journal to prove the projections. Storage is
reached only through the ports in ``ports``; ``tierflow.store`` implements them.
"""
