"""Portal authorisation is structural: every route declares its access, every POST that acts checks the CSRF
token, and a request without a session never reaches a protected page."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tierflow.portal import PORTAL_ROUTERS
from tierflow.portal.access import ACCESS_MARK


def _marks(dependant: Dependant) -> set[str]:
    found = {getattr(dependant.call, ACCESS_MARK)} if hasattr(dependant.call, ACCESS_MARK) else set()
    for sub in dependant.dependencies:
        found |= _marks(sub)
    return found


def _routes() -> list[APIRoute]:
    return [r for router in PORTAL_ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def test_every_portal_route_declares_its_access() -> None:
    routes = _routes()
    assert len(routes) >= 20, "the portal's routers are not all registered"
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if not _marks(r.dependant)]
    assert not missing, "portal routes without an access declaration: " + ", ".join(missing)


def test_only_the_landing_and_sign_in_are_public() -> None:
    public = sorted(r.path for r in _routes() if _marks(r.dependant) == {"public"})
    assert set(public) <= {"/portal/", "/portal/login"}, public


def test_every_post_checks_csrf_or_is_the_sign_in() -> None:
    for route in _routes():
        if route.methods & {"POST", "PUT", "PATCH", "DELETE"} and route.path != "/portal/login":
            assert _marks(route.dependant) & {"actor", "session_post"}, f"{route.path} does not check CSRF"


def test_protected_pages_redirect_to_sign_in_without_a_session(portal_app) -> None:  # type: ignore[no-untyped-def]
    for route in _routes():
        if "GET" not in route.methods or _marks(route.dependant) == {"public"}:
            continue
        path = route.path.replace("{", "").replace("}", "")  # any id: the session check comes first
        r = portal_app.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/portal/login?next="), (path, r.status_code)
    for route in _routes():
        if "POST" in route.methods and route.path != "/portal/login":
            path = route.path.replace("{", "").replace("}", "")
            r = portal_app.post(path, data={}, follow_redirects=False)
            assert r.status_code in (303, 400), (path, r.status_code)
