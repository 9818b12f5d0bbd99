"""Errors on portal pages are pages, not problem+json: a clear message, the status, and a way back.

The API's handlers stay in charge of everything outside ``/portal``; these wrap them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tierflow.api.problems import status_for
from tierflow.domain.errors import DomainError
from tierflow.portal.access import COOKIE, SignInRequired, Viewer, sign_in_url


def _is_portal(request: Request) -> bool:
    return request.url.path.startswith("/portal")


def _problem_page(request: Request, status: int, title: str, detail: str) -> Response:
    from tierflow.portal.render import page

    viewer: Viewer | None = getattr(request.state, "portal_viewer", None)
    return page(request, "problem.html", viewer, status_code=status, title=title, detail=detail)


def install(app: FastAPI) -> None:
    api_handlers: dict[Any, Any] = dict(app.exception_handlers)

    async def sign_in_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInRequired)
        response = RedirectResponse(sign_in_url(error.next_url), status_code=303)
        if request.cookies.get(COOKIE):
            response.delete_cookie(COOKIE, path="/")  # expired or revoked
        return response

    async def domain_error(request: Request, error: Exception) -> Response:
        if not _is_portal(request):
            return await api_handlers[DomainError](request, error)  # type: ignore[no-any-return]
        assert isinstance(error, DomainError)
        status = status_for(error)
        titles = {401: "Please sign in", 403: "Not allowed", 404: "Not found", 409: "Conflict"}
        return _problem_page(request, status, titles.get(status, "That did not work"), error.message)

    async def validation(request: Request, error: Exception) -> Response:
        if not _is_portal(request):
            return await api_handlers[RequestValidationError](request, error)  # type: ignore[no-any-return]
        assert isinstance(error, RequestValidationError)
        lines = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'form'}: {e.get('msg', '')}" for e in error.errors()
        ]
        return _problem_page(request, 400, "Please check the form", "; ".join(lines) or "The form is not valid.")

    async def http_error(request: Request, error: Exception) -> Response:
        if not _is_portal(request):
            return await api_handlers[StarletteHTTPException](request, error)  # type: ignore[no-any-return]
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404:
            return _problem_page(request, 404, "Not found", "There is no such page.")
        if error.status_code == 405:
            return _problem_page(request, 405, "Not allowed", "That page does not take this kind of request.")
        return _problem_page(request, error.status_code, "That did not work", str(error.detail))

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
