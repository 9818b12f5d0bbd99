"""PACT Technical Specifications v3.0 REST API of a data owner, mounted at ``/pact``.

Design overview: ``/pact/auth/token`` (OAuth 2 client credentials, HTTP Basic), ``/pact/3/footprints`` (v3
filters, ``limit`` / ``offset`` with an RFC 8288 ``Link: <...>; rel="next"``), ``/pact/3/footprints/{id}``,
``/pact/3/events`` (CloudEvents, structured JSON mode) and OpenID discovery at
``/pact/.well-known/openid-configuration``. Callers authenticate with PACT bearer tokens, not party tokens.

Errors take PACT's own shape, ``{"code", "message"}`` (``BadRequest``, ``AccessDenied``, ``TokenExpired``,
``NotFound``, ``InternalError``), and the token endpoint answers OAuth's ``{"error", "error_description"}``:
PACT clients parse these, so the platform's problem+json is not used here. For that reason every route parses
its own input and turns errors into responses itself, never leaving them to the application's handlers.

Plain HTTP is refused unless the client is on the loopback interface (TLS is terminated in front of the
application; with ``--proxy-headers`` the scheme is the original one). ``app.state.pact_http_allowed`` (a tuple
of client hosts) overrides that. Answers to footprint requests are sent after the response, in a background
task, by ``deliver`` (an HTTP POST of the CloudEvent), replaceable through ``app.state.pact_sender``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote, urlencode

import httpx
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response

from tierflow.bootstrap import Platform
from tierflow.services.footprints import (
    REQUEST_CREATED,
    FootprintAccessDenied,
    FootprintFilter,
    FootprintNotFound,
    FootprintService,
    InvalidClient,
    InvalidEvent,
    InvalidToken,
    PactClient,
    Sender,
    TokenExpired,
    parse_rfc3339,
)
from tierflow.store.footprints import SqlFootprintStore

router = APIRouter(prefix="/pact", tags=["pact"])

LOOPBACK = ("127.0.0.1", "::1", "localhost", "testclient")
MAX_LIMIT = 1000
MULTI = {"productId": "product_ids", "companyId": "company_ids", "geography": "geographies",
         "classification": "classifications", "status": "statuses"}
MOMENTS = {"validOn": "valid_on", "validAfter": "valid_after", "validBefore": "valid_before"}


class PactError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if self.status == 401 else None
        return JSONResponse({"code": self.code, "message": self.message}, status_code=self.status, headers=headers)


def footprint_service(platform: Platform, state: Any) -> FootprintService:
    """The platform's footprint service: ``platform.footprints`` if bootstrap made one, else one made here once."""
    existing = getattr(platform, "footprints", None) or getattr(state, "pact_service", None)
    if isinstance(existing, FootprintService):
        return existing
    service = FootprintService(SqlFootprintStore(platform.engine), clock=platform.clock, source="tierflow")
    state.pact_service = service
    return service


def deliver(url: str, event: dict[str, Any]) -> None:
    """POST a CloudEvent to a recipient's events endpoint; anything but 2xx is a failure."""
    response = httpx.post(url, content=json.dumps(event), timeout=10.0,
                          headers={"Content-Type": "application/cloudevents+json; charset=UTF-8"})
    response.raise_for_status()


def _service(request: Request) -> FootprintService:
    return footprint_service(request.app.state.platform, request.app.state)


def _require_https(request: Request) -> None:
    allowed = getattr(request.app.state, "pact_http_allowed", LOOPBACK)
    host = request.client.host if request.client else ""
    if request.url.scheme != "https" and host not in allowed:
        raise PactError(403, "AccessDenied", "HTTPS is required")


def _client(request: Request, service: FootprintService) -> PactClient:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PactError(400, "BadRequest", "Invalid token provided")
    try:
        return service.authenticate(token.strip())
    except InvalidToken as error:
        raise PactError(400, "BadRequest", str(error)) from error
    except TokenExpired as error:
        raise PactError(401, "TokenExpired", str(error)) from error


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="pact"'
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


@router.get("/.well-known/openid-configuration", include_in_schema=False)
async def openid_configuration(request: Request) -> JSONResponse:
    base = str(request.url_for("openid_configuration")).removesuffix("/.well-known/openid-configuration")
    return JSONResponse({
        "issuer": base,
        "token_endpoint": base + "/auth/token",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "response_types_supported": ["token"],
    })


@router.post("/auth/token")
async def token(request: Request) -> Response:
    """OAuth 2.0 client credentials grant (RFC 6749 section 4.4) with HTTP Basic client authentication."""
    try:
        _require_https(request)
    except PactError as error:
        return error.response()
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        client_id, sep, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if scheme.lower() != "basic" or not sep:
        return _oauth_error(401, "invalid_client", "Client authentication failed")
    form = dict((await request.form()).items()) if "form" in request.headers.get("content-type", "") else {}
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    try:
        issued = _service(request).issue_token(unquote(client_id), unquote(secret))
    except InvalidClient:
        return _oauth_error(401, "invalid_client", "Client authentication failed")
    return JSONResponse({"access_token": issued.access_token, "token_type": issued.token_type,
                         "expires_in": issued.expires_in}, headers={"Cache-Control": "no-store"})


def _filter(request: Request) -> tuple[FootprintFilter, int, int | None]:
    params = request.query_params
    values: dict[str, Any] = {}
    for name, attribute in MULTI.items():
        found = [v for key, v in params.multi_items() if key.lower() == name.lower() for v in v.split(",") if v]
        values[attribute] = tuple(found)
    for name, attribute in MOMENTS.items():
        raw = next((v for key, v in params.multi_items() if key.lower() == name.lower()), None)
        if raw is not None:
            try:
                values[attribute] = parse_rfc3339(raw.replace(" ", "+"), name)
            except InvalidEvent as error:
                raise PactError(400, "BadRequest", str(error)) from error
    try:
        offset = int(params.get("offset", "0"))
        limit = int(params["limit"]) if "limit" in params else None
    except ValueError as error:
        raise PactError(400, "BadRequest", "limit and offset must be integers") from error
    if offset < 0 or (limit is not None and not 1 <= limit <= MAX_LIMIT):
        raise PactError(400, "BadRequest", f"limit must be 1..{MAX_LIMIT} and offset not negative")
    return FootprintFilter(**values), offset, limit


@router.get("/3/footprints")
def list_footprints(request: Request) -> Response:
    """Action ListFootprints."""
    try:
        _require_https(request)
        service = _service(request)
        client = _client(request, service)
        criteria, offset, limit = _filter(request)
        page, more = service.list_page(client, criteria, offset=offset, limit=limit)
    except PactError as error:
        return error.response()
    headers = {}
    if more and limit is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]
        query += [("limit", str(limit)), ("offset", str(offset + limit))]
        headers["Link"] = f'<{_with_query(request, query)}>; rel="next"'
    return JSONResponse({"data": [f.to_json() for f in page]}, headers=headers)


def _with_query(request: Request, query: list[tuple[str, str]]) -> str:
    return str(request.url.replace(query=urlencode(query)))


@router.get("/3/footprints/{footprint_id}")
def get_footprint(request: Request, footprint_id: str) -> Response:
    """Action GetFootprint."""
    try:
        _require_https(request)
        service = _service(request)
        client = _client(request, service)
        try:
            footprint = service.get(client, footprint_id)
        except FootprintNotFound as error:
            raise PactError(404, "NotFound", str(error)) from error
        except FootprintAccessDenied as error:
            raise PactError(403, "AccessDenied", str(error)) from error
    except PactError as error:
        return error.response()
    return JSONResponse({"data": footprint.to_json()})


@router.post("/3/events")
async def events(request: Request, background: BackgroundTasks) -> Response:
    """Action Events: accept a CloudEvent; a footprint request is answered after the response."""
    try:
        _require_https(request)
        service = _service(request)
        client = _client(request, service)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in ("application/cloudevents+json", "application/json"):
            raise PactError(400, "BadRequest", "The body must be application/cloudevents+json")
        try:
            event = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as error:
            raise PactError(400, "BadRequest", "The body is not JSON") from error
        try:
            outcome = service.receive_event(client, event)
        except InvalidEvent as error:
            raise PactError(400, "BadRequest", str(error)) from error
    except PactError as error:
        return error.response()
    if outcome.type == REQUEST_CREATED and outcome.request_id is not None and getattr(
            request.app.state, "pact_auto_answer", True):
        sender: Sender = getattr(request.app.state, "pact_sender", deliver)
        background.add_task(_answer_and_deliver, service, outcome.request_id, sender)
    return Response(status_code=200)


def _answer_and_deliver(service: FootprintService, request_id: str, sender: Sender) -> None:
    service.answer(request_id)
    service.deliver_due(sender)
