"""Storage adapters: SQLAlchemy Core over SQLite (embedded default, WAL) or PostgreSQL (production).

Design overview: ``schema`` declares the tables; ``migrations`` (Alembic, run by ``migrate.upgrade``)
creates them, adding PostgreSQL's exclusion constraint against overlapping holdings; ``repository``
implements the services' ``Repository`` and ``UnitOfWork`` ports; ``tree`` the Merkle-tree storage;
``queries`` the read model; ``engine`` the per-database connection settings.
"""
