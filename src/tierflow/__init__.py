"""tierflow: multi-tier supply-chain finance on a signed, provable journal.

Packages, from the inside out:

- ``domain``   pure business core (money, unit ranges, vouchers, holdings, rules, pricing); no I/O.
- ``ledger``   the tamper-evident journal: RFC 8785 canonical bytes, RFC 9162 Merkle tree and proofs,
               C2SP signed-note checkpoints and cosignatures, offline verification.
- ``services`` use cases; each runs in one transaction through a unit of work (a port).
- ``store``    SQLAlchemy adapters for the ports, Alembic migrations; SQLite or PostgreSQL.
- ``api``      FastAPI REST interface; ``cli`` the ``tierflow`` command.
"""

__version__ = "0.1.0"
