"""REST API (FastAPI) under ``/v1``; OpenAPI at ``/openapi.json``.

Design overview: routes are thin. A POST carries a signed command, checked for its kind and path ids, and
goes through the group committer to ``LedgerService``; a GET goes to ``QueryService``, which scopes what
the caller may see. Errors are RFC 9457 problem+json (``problems``). Authentication is a bearer token per
party (``auth``); what a party does is proven by its Ed25519 signature on the command. The server's
background thread integrates the journal and signs checkpoints (``background``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tierflow import __version__
from tierflow.api import problems
from tierflow.api.background import Background
from tierflow.api.committer import GroupCommitter
from tierflow.api.routes_cases import router as cases_router
from tierflow.api.routes_documents import router as documents_router
from tierflow.api.routes_green import router as green_router
from tierflow.api.routes_journal import router as journal_router
from tierflow.api.routes_ledger import router as ledger_router
from tierflow.api.routes_pact import router as pact_router
from tierflow.bootstrap import Platform

ROUTERS = (ledger_router, cases_router, documents_router, green_router, journal_router)


def create_app(platform: Platform, *, background: bool = True) -> FastAPI:
    committer = GroupCommitter(platform.ledger, max_batch=platform.settings.commit_batch)
    worker = Background(platform)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background:
            committer.start()
            worker.start()
        try:
            yield
        finally:
            if background:
                worker.stop()
                committer.stop()

    app = FastAPI(
        title="tierflow",
        version=__version__,
        summary="Multi-tier supply-chain finance on a signed, provable journal",
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.committer = committer
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
    # PACT clients authenticate with PACT's own OAuth tokens, not the party tokens of ROUTERS (``routes_pact``).
    app.include_router(pact_router)
    return app
